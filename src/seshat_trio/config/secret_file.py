"""The cluster secret file: one secret per non-empty line, the current one first.

Two lines during a rotation (new, then previous; docs/security.md); each secret at least
MIN_SECRET_BYTES long, surrounding whitespace ignored. Reading it is the configuration's
job (and its errors are configuration problems); using it is the transport's.
"""

from pathlib import Path

MAX_SECRETS = 2
MIN_SECRET_BYTES = 32


def parse_secrets(text: bytes, origin: str) -> tuple[bytes, ...]:
    """The secrets in a secret file's content; ValueError says what is wrong."""
    secrets = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not secrets:
        raise ValueError(f"{origin} holds no secret")
    if len(secrets) > MAX_SECRETS:
        raise ValueError(
            f"{origin} holds {len(secrets)} secrets; at most {MAX_SECRETS} (current, previous)"
        )
    for number, secret in enumerate(secrets, 1):
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"{origin}: secret {number} has {len(secret)} bytes; at least "
                f"{MIN_SECRET_BYTES} are needed (e.g. `openssl rand -hex 32`)"
            )
    return secrets


def read_secrets(path: Path) -> tuple[bytes, ...]:
    """The secrets in the file at `path`; ValueError says what is wrong."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_secrets(text, str(path))

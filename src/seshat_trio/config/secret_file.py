"""Secret files: the cluster secret and the /metrics bearer token.

The cluster secret file holds one secret per non-empty line, the current one first: two
lines during a rotation (new, then previous; docs/security.md), each at least
MIN_SECRET_BYTES long. The token file holds one token of at least MIN_TOKEN_BYTES.
Surrounding whitespace is ignored. Reading them is the configuration's job (and their
errors are configuration problems); using them is the transport's and the admin port's.
"""

from pathlib import Path

MAX_SECRETS = 2
MIN_SECRET_BYTES = 32
MIN_TOKEN_BYTES = 16


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


def read_token(path: Path) -> bytes:
    """The bearer token in the file at `path`; ValueError says what is wrong."""
    try:
        token = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(token) < MIN_TOKEN_BYTES or any(c <= 0x20 or c >= 0x7F for c in token):
        raise ValueError(
            f"{path}: the token must be one word of at least {MIN_TOKEN_BYTES} printable "
            "ASCII characters (e.g. `openssl rand -hex 24`)"
        )
    return token

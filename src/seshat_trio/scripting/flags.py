"""Script flags and the `#!` lines that declare them (Redis 7.0).

An EVAL script may start with `#!lua [flags=f1,f2]`: with it the script declares its flags
(none: it may write, and is refused under OOM); without it the script is in compatibility
mode. A function library starts with `#!<engine> name=<library>`; each of its functions
declares flags through redis.register_function. The flags: no-writes (a read-only script:
it may run on any node after a read barrier, and refuses writes), allow-oom, allow-stale,
no-cluster, allow-cross-slot-keys.
"""

from __future__ import annotations

import attrs

from seshat_trio.protocol import ProtocolError, split_inline

FLAG_NAMES = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")
NO_WRITES = "no-writes"


class ShebangError(ValueError):
    """A `#!` line Redis refuses: the message (without the error code)."""


@attrs.frozen(slots=True)
class ScriptFlags:
    flags: frozenset[str] = frozenset()
    # No shebang: Redis's backwards-compatible EVAL (may write, no declared flags).
    compat: bool = True

    @property
    def read_only(self) -> bool:
        return not self.compat and NO_WRITES in self.flags


COMPAT = ScriptFlags()


def split_args(line: bytes) -> list[bytes] | None:
    """Redis's sdssplitargs (the split of inline requests); None for unbalanced quotes or a
    closing quote not followed by a blank."""
    try:
        return split_inline(line)
    except ProtocolError:
        return None


def _header(code: bytes, no_line: str, no_words: str) -> tuple[bytes, list[bytes]]:
    """The `#!` line `code` starts with (without its newline) and its words; ShebangError
    `no_line` without a newline before the first NUL (Redis looks for it with strchr, in a C
    string), `no_words` without words (or with unbalanced quotes)."""
    end = code.find(b"\n")
    if end < 0 or b"\x00" in code[:end]:
        raise ShebangError(no_line)
    line = code[:end]
    parts = split_args(line)
    if not parts:
        raise ShebangError(no_words)
    return line, parts


def eval_flags(body: bytes) -> tuple[ScriptFlags, int]:
    """An EVAL script's flags and the length of its shebang line (0 without one); the
    script is compiled from that offset, keeping the newline so line numbers hold."""
    if not body.startswith(b"#!"):
        return COMPAT, 0
    line, parts = _header(body, "Invalid script shebang", "Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise ShebangError(
            f"Unexpected engine in script shebang: {parts[0].decode(errors='replace')}"
        )
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise ShebangError(f"Unknown lua shebang option: {part.decode(errors='replace')}")
        for flag in part[6:].split(b","):
            name = flag.decode(errors="replace")
            if name not in FLAG_NAMES:
                raise ShebangError(f"Unexpected flag in script shebang: {name}")
            flags.add(name)
    return ScriptFlags(frozenset(flags), compat=False), len(line)


@attrs.frozen(slots=True)
class LibraryHeader:
    engine: str
    name: str
    # The code after the `#!` line, starting with its newline (line numbers hold).
    body: bytes


def library_header(code: bytes) -> LibraryHeader:
    """Redis's functionExtractLibMetaData: `#!<engine> name=<library>`."""
    if not code.startswith(b"#!"):
        raise ShebangError("Missing library metadata")
    line, parts = _header(code, "Invalid library metadata", "Invalid library metadata")
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise ShebangError("Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise ShebangError(f"Invalid metadata value given: {part.decode(errors='replace')}")
    if name is None:
        raise ShebangError("Library name was not given")
    return LibraryHeader(
        parts[0][2:].decode(errors="replace"), name.decode(errors="replace"), code[len(line) :]
    )


def valid_name(name: str) -> bool:
    """Library and function names: letters, digits and underscores, at least one."""
    return bool(name) and all(c.isascii() and (c.isalnum() or c == "_") for c in name)

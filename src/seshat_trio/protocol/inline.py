"""Splitting of inline (telnet-style) request lines, with the rules of Redis's sdssplitargs.

- Blanks between arguments are C isspace() bytes: space, \\t, \\n, \\v, \\f, \\r.
- An unquoted argument ends at space, \\t, \\r or \\n only (so \\v and \\f inside it are kept);
  a quote may open in the middle of an argument (``a"b c"`` is one argument ``ab c``).
- Double quotes understand \\n \\r \\t \\b \\a, ``\\xHH`` (lowercase x, hex digits of either
  case) and backslash before any other byte stands for that byte.
- Single quotes understand only ``\\'``; every other backslash is literal.
- A closing quote must be followed by a blank or the end of the line, and a quote must be
  closed: otherwise the whole line is "Protocol error: unbalanced quotes in request".

One deliberate difference: Redis works on C strings, so a NUL byte ends its line early (in
practice Redis never splits such a line: its newline search stops at the NUL and the client
hangs). Here NUL is an ordinary byte, so nothing a client sends is silently dropped.
"""

from __future__ import annotations

import re

from seshat_trio.protocol.errors import ProtocolError

UNBALANCED_QUOTES = "Protocol error: unbalanced quotes in request"

_BLANKS = frozenset(b" \t\n\v\f\r")
_UNQUOTED_END = frozenset(b" \t\r\n")
# Without quotes an argument is a non-blank byte followed by bytes that do not end it.
_PLAIN_ARGUMENT = re.compile(rb"[^ \t\n\v\f\r][^ \t\r\n]*")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09, ord("b"): 0x08, ord("a"): 0x07}
_BACKSLASH = ord("\\")
_DOUBLE = ord('"')
_SINGLE = ord("'")
_LOWER_X = ord("x")


def split_inline(line: bytes) -> list[bytes]:
    """Split one inline request line (without its line ending) into arguments."""
    if b'"' not in line and b"'" not in line:
        # The common case: a regex does the whole split in C.
        return _PLAIN_ARGUMENT.findall(line)
    return _split_quoted(line)


def _split_quoted(line: bytes) -> list[bytes]:
    args: list[bytes] = []
    size = len(line)
    i = 0
    while True:
        while i < size and line[i] in _BLANKS:
            i += 1
        if i == size:
            return args
        current = bytearray()
        quote = 0  # the quote byte we are inside, 0 outside quotes
        while True:
            if i == size:
                if quote:
                    raise ProtocolError(UNBALANCED_QUOTES)
                break
            byte = line[i]
            if quote == _DOUBLE:
                if (
                    byte == _BACKSLASH
                    and i + 3 < size
                    and line[i + 1] == _LOWER_X
                    and line[i + 2] in _HEX_DIGITS
                    and line[i + 3] in _HEX_DIGITS
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 4
                    continue
                if byte == _BACKSLASH and i + 1 < size:
                    escaped = line[i + 1]
                    current.append(_ESCAPES.get(escaped, escaped))
                    i += 2
                    continue
            elif quote == _SINGLE:
                if byte == _BACKSLASH and i + 1 < size and line[i + 1] == _SINGLE:
                    current.append(_SINGLE)
                    i += 2
                    continue
            elif byte in _UNQUOTED_END:
                i += 1
                break
            elif byte in (_DOUBLE, _SINGLE):
                quote = byte
                i += 1
                continue
            if quote and byte == quote:
                # Closing quote: it must be followed by a blank or the end of the line.
                if i + 1 < size and line[i + 1] not in _BLANKS:
                    raise ProtocolError(UNBALANCED_QUOTES)
                i += 1
                break
            current.append(byte)
            i += 1
        args.append(bytes(current))

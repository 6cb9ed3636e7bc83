"""Redis's glob-style patterns (stringmatchlen) as compiled regular expressions.

`*` any run, `?` one byte, `[abc]` / `[^abc]` / `[a-z]` sets, `\\x` a literal x. Like Redis,
an unterminated `[` set runs to the end of the pattern and a range may be given backwards.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: bytes) -> re.Pattern[bytes]:
    out: list[bytes] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i : i + 1]
        if c == b"*":
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i : i + 1]))
        elif c == b"[":
            i += 1
            negate = i < n and pattern[i : i + 1] == b"^"
            if negate:
                i += 1
            members: list[bytes] = []
            while i < n and pattern[i : i + 1] != b"]":
                if pattern[i : i + 1] == b"\\" and i + 1 < n:
                    i += 1
                    members.append(re.escape(pattern[i : i + 1]))
                elif i + 2 < n and pattern[i + 1] == ord("-") and pattern[i + 2] != ord("]"):
                    lo, hi = sorted((pattern[i], pattern[i + 2]))
                    members.append(re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi])))
                    i += 2
                else:
                    members.append(re.escape(pattern[i : i + 1]))
                i += 1
            body = b"".join(members)
            if not body:
                out.append(b"(?!)" if not negate else b".")
            else:
                out.append(b"[" + (b"^" if negate else b"") + body + b"]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile(b"".join(out), re.DOTALL)


def matches(pattern: bytes, key: bytes) -> bool:
    return pattern == b"*" or compile_pattern(pattern).fullmatch(key) is not None

"""`#!` lines of EVAL scripts and function libraries, split as Redis 7.0 splits them."""

from __future__ import annotations

import pytest

from seshat_trio.scripting.flags import ShebangError, eval_flags, library_header, split_args


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"#!lua flags=no-writes", [b"#!lua", b"flags=no-writes"]),
        (b'#!lua "flags=no-writes,allow-oom"', [b"#!lua", b"flags=no-writes,allow-oom"]),
        (b'a"b c"', [b"ab c"]),
        (b'"\\x41\\n"', [b"A\n"]),
        (b"'a\\'b'", [b"a'b"]),
        (b"  ", []),
        (b'"open', None),
        (b'"x"y', None),
    ],
)
def test_split_args_is_sdssplitargs(line: bytes, words: list[bytes] | None) -> None:
    assert split_args(line) == words


def test_a_nul_before_the_first_newline_is_refused_as_redis_does() -> None:
    # Redis finds the newline with strchr: a NUL ends the C string first. (This used to
    # loop for ever on an unquoted NUL.)
    with pytest.raises(ShebangError, match=r"^Invalid script shebang$"):
        eval_flags(b"#!lua\x00 flags=no-writes\nreturn 1")
    with pytest.raises(ShebangError, match=r"^Invalid library metadata$"):
        library_header(b"#!lua name=l\x00ib\nreturn 1")
    flags, skip = eval_flags(b"#!lua flags=no-writes\nreturn '\x00'")
    assert flags.read_only and skip == len(b"#!lua flags=no-writes")

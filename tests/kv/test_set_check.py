"""SET's check before proposing (`check_set`) refuses exactly what its parser refuses, and
is the check the leader runs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.kv.registry import WRITES
from seshat_trio.kv.strings import check_set, parse_set
from seshat_trio.protocol import ErrorReply

TOKENS = [b"nx", b"XX", b"get", b"keepttl", b"ex", b"PX", b"exat", b"pxat", b"10", b"-1", b"0",
          b"abc", b"9223372036854775807", b"v"]  # fmt: skip


@given(st.lists(st.sampled_from(TOKENS), max_size=6))
def test_check_set_refuses_what_parse_set_refuses(options: list[bytes]) -> None:
    args = (b"key", b"value", *options)
    parsed = parse_set(args)
    assert check_set(args) == (parsed if isinstance(parsed, ErrorReply) else None)


def test_set_is_checked_by_check_set() -> None:
    assert WRITES[b"set"].check is check_set
    assert WRITES[b"set"].check((b"k", b"v")) is None

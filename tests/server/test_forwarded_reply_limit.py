"""fit_payload: a forwarded request's replies always fit the frame back to the follower."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocol.test_resp_encoder import replies

from seshat_trio.protocol import encode_replies, split_replies
from seshat_trio.server.forwarded import TOO_LARGE, fit_payload

LEADER = 1
# Generous for the error text with any size and limit this test uses.
ERROR_ROOM = len(TOO_LARGE) + 64


@settings(max_examples=300, deadline=None)
@given(st.lists(replies, min_size=1, max_size=8), st.integers(0, 4_000), st.sampled_from([2, 3]))
def test_replies_fit_and_stay_one_per_command(
    values: list[object], slack: int, protocol: int
) -> None:
    limit = len(values) * ERROR_ROOM + slack
    payload = fit_payload(values, protocol, limit, LEADER)  # type: ignore[arg-type]
    assert len(payload) <= limit
    pieces = split_replies(payload, [1] * len(values))  # exactly one reply per command
    for value, piece in zip(values, pieces, strict=True):
        original = encode_replies([value], protocol)  # type: ignore[list-item]
        assert piece == original or piece.startswith(b"-ERR the reply (")
    if len(encode_replies(values, protocol)) <= limit:  # type: ignore[arg-type]
        assert payload == encode_replies(values, protocol)  # type: ignore[arg-type]


def test_the_largest_replies_are_replaced_first() -> None:
    values = [b"a" * 10, b"b" * 3_000, b"c" * 20, b"d" * 2_000]
    payload = fit_payload(values, 2, 2_500, LEADER)  # type: ignore[arg-type]
    small, big, small2, mid = split_replies(payload, [1, 1, 1, 1])
    assert (small, small2, mid) == (
        encode_replies([b"a" * 10]),
        encode_replies([b"c" * 20]),
        encode_replies([b"d" * 2_000]),
    )
    assert big == (
        b"-ERR the reply (3009 bytes) is too large to return through a follower (limit 2500 "
        b"bytes); the command ran on the leader (node 1): send it there, or ask for less\r\n"
    )

"""split_replies: a merged forward's reply payload is cut back exactly per connection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocol.test_resp_encoder import replies

from seshat_trio.protocol import ErrorReply, SimpleString, encode_replies, split_replies


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(replies, max_size=4), max_size=6),
    st.sampled_from([2, 3]),
)
def test_groups_come_back_exactly_as_encoded(groups: list[list[object]], protocol: int) -> None:
    payload = encode_replies([r for group in groups for r in group], protocol)  # type: ignore[misc]
    pieces = split_replies(payload, [len(group) for group in groups])
    assert pieces == [encode_replies(group, protocol) for group in groups]  # type: ignore[arg-type]


def test_bulk_data_that_looks_like_replies_is_skipped_by_length() -> None:
    tricky = b"+OK\r\n$3\r\n"
    payload = encode_replies([tricky, SimpleString("OK"), [tricky, None], ErrorReply("ERR x")])
    assert split_replies(payload, [1, 2, 1]) == [
        encode_replies([tricky]),
        encode_replies([SimpleString("OK"), [tricky, None]]),
        b"-ERR x\r\n",
    ]


@pytest.mark.parametrize(
    ("payload", "counts"),
    [
        (b"+OK\r\n+OK\r\n", [1]),  # a reply left over
        (b"+OK\r\n", [2]),  # one reply short
        (b"$5\r\nab\r\n", [1]),  # bulk shorter than its length
        (b"$2\r\nabc\r\n", [1]),  # bulk longer than its length
        (b"*2\r\n:1\r\n", [1]),  # array missing a child
        (b"+OK", [1]),  # no CRLF
        (b"|1\r\n+a\r\n+b\r\n+OK\r\n", [1]),  # attributes are never written by the encoder
        (b"$x\r\n", [1]),  # not a length
    ],
)
def test_payloads_the_counts_do_not_cover_exactly_are_refused(
    payload: bytes, counts: list[int]
) -> None:
    with pytest.raises(ValueError):
        split_replies(payload, counts)

"""Cut concatenated RESP replies into groups at reply boundaries (sans-IO).

A follower merges the forwarded write runs of several connections into one request; the
leader answers with one payload of replies, and this hands each connection its share. The
scanner knows the reply grammar that `encode_reply` writes, RESP2 and RESP3: one-line types
(`+ - : _ , # (`), length-prefixed types (`$ = !`, where `$-1` is RESP2's null), and
aggregates (`* ~ >` with n children, `%` with 2n; `*-1` is a null array). Anything else, or
a payload the counts do not cover exactly, is a ValueError: a reply is never mis-assigned.
"""

from __future__ import annotations

from collections.abc import Sequence

_ONE_LINE = frozenset(b"+-:_,#(")
_LENGTH_PREFIXED = frozenset(b"$=!")
_CHILDREN_PER_ITEM = {ord("*"): 1, ord("~"): 1, ord(">"): 1, ord("%"): 2}


def split_replies(data: bytes, counts: Sequence[int]) -> list[bytes]:
    """`data` cut into consecutive pieces holding `counts[i]` whole replies each."""
    pieces: list[bytes] = []
    start = 0
    for count in counts:
        end = start
        for _ in range(count):
            end = _reply_end(data, end)
        pieces.append(data[start:end])
        start = end
    if start != len(data):
        raise ValueError(f"{len(data) - start} bytes of replies left over")
    return pieces


def _reply_end(data: bytes, pos: int) -> int:
    """The offset just past the whole reply (children included) that starts at `pos`."""
    remaining = 1
    while remaining:
        if pos >= len(data):
            raise ValueError("truncated reply")
        head = pos
        kind = data[head]
        eol = data.find(b"\r\n", head)
        if eol < 0:
            raise ValueError("truncated reply header")
        pos = eol + 2
        if kind in _ONE_LINE:
            pass
        elif kind in _LENGTH_PREFIXED:
            size = int(data[head + 1 : eol])
            if size >= 0:
                pos += size + 2
                if data[pos - 2 : pos] != b"\r\n":
                    raise ValueError("length-prefixed reply does not end in CRLF")
        elif (per_item := _CHILDREN_PER_ITEM.get(kind)) is not None:
            items = int(data[head + 1 : eol])
            if items > 0:
                remaining += items * per_item
        else:
            raise ValueError(f"unexpected reply type byte {bytes([kind])!r}")
        remaining -= 1
    return pos

"""Random picks from a collection (HRANDFIELD, SRANDMEMBER, SPOP).

A collection of at most EXACT_RANDOM_ELEMENTS is read whole and picked from uniformly. A
bigger one is never read whole: each pick is the element after a random position in
member order (the crc32 of the member, kv/collections.py), O(log N) per pick but not
uniform (an element after a wide gap is likelier). The `rng` decides everything: a write
(SPOP) gets the run's deterministic one (`view.random()`), so every node picks alike.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import attrs

from seshat_trio.kv.collections import Collection, from_position
from seshat_trio.kv.parsing import NOT_INTEGER, SYNTAX_ERROR, parse_int
from seshat_trio.protocol import ErrorReply

EXACT_RANDOM_ELEMENTS = 1000
# The most elements a negative count may ask for (Redis has no bound: a huge one would hold
# the event loop and memory for the whole reply).
MAX_RANDOM_REPEATS = 1_000_000
_LONG_MAX = 2**63 - 1

Item = tuple[bytes, bytes]


def parse_count(arg: bytes) -> int | ErrorReply:
    """A count of random elements: negative asks for repeats, as Redis 7.0 parses it."""
    count = parse_int(arg)
    if count is None:
        return NOT_INTEGER
    if count < -_LONG_MAX:
        return ErrorReply(
            f"ERR value is out of range, value must between {-_LONG_MAX} and {_LONG_MAX}"
        )
    return count


@attrs.frozen(slots=True)
class RandArgs:
    """HRANDFIELD / ZRANDMEMBER: `key [count [WITHVALUES | WITHSCORES]]`."""

    key: bytes
    count: int | None  # None: one element, as a bulk string
    with_pairs: bool  # WITHVALUES / WITHSCORES: each element with its value or score


def parse_random(args: Sequence[bytes], pairs_word: bytes) -> RandArgs | ErrorReply:
    """`key [count [<pairs_word>]]` as Redis 7.0 parses HRANDFIELD and ZRANDMEMBER."""
    if len(args) == 1:
        return RandArgs(args[0], None, with_pairs=False)
    count = parse_count(args[1])
    if isinstance(count, ErrorReply):
        return count
    if len(args) > 3 or (len(args) == 3 and args[2].lower() != pairs_word):
        return SYNTAX_ERROR
    with_pairs = len(args) == 3
    # Redis doubles the count for the reply's length and refuses what would overflow.
    if with_pairs and not -_LONG_MAX // 2 <= count <= _LONG_MAX // 2:
        return ErrorReply("ERR value is out of range")
    return check_repeats(count) or RandArgs(args[0], count, with_pairs)


def check_repeats(count: int) -> ErrorReply | None:
    if -count > MAX_RANDOM_REPEATS:
        return ErrorReply(
            f"ERR value is out of range, a negative count may ask for at most "
            f"{MAX_RANDOM_REPEATS} elements"
        )
    return None


def random_items(c: Collection, rng: random.Random, count: int) -> list[Item]:
    """`count` elements of a non-empty collection drawn independently (repeats possible)."""
    if c.count <= EXACT_RANDOM_ELEMENTS:
        everything = list(c.items())
        return [everything[rng.randrange(len(everything))] for _ in range(count)]
    picks: list[Item] = []
    for _ in range(count):
        item = next(c.items(from_position(rng.getrandbits(32))), None) or next(c.items())
        picks.append(item)
    return picks


def distinct_items(c: Collection, rng: random.Random, count: int) -> list[Item]:
    """`count` distinct elements (count < the collection's size)."""
    if count * 3 > c.count or c.count <= EXACT_RANDOM_ELEMENTS:
        return rng.sample(list(c.items()), count)
    chosen: dict[bytes, bytes] = {}
    while len(chosen) < count:
        for suffix, value in random_items(c, rng, count - len(chosen)):
            chosen.setdefault(suffix, value)
    return list(chosen.items())

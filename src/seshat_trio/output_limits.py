"""`client-output-buffer-limit`: Redis's syntax, its classes and its soft/hard rule, sans-IO.

A limit is `<class> <hard> <soft> <soft seconds>` per class, sizes in Redis's memory units
(`1gb`, `64mb`, `512k`, plain bytes); `replica` and `slave` name the same class, `master`
is refused, as in Redis 7.0. A client is over its limit when the bytes it has not yet read
reach `hard`, or stay at or above `soft` for more than `soft seconds`; 0 turns either bound
off. Replicas are Raft peers here, never clients, so the replica class is accepted and
reported but applies to nobody.
"""

from __future__ import annotations

import re

import attrs

CLASSES = ("normal", "slave", "pubsub")  # Redis's order, in CONFIG GET
_ALIASES = {"normal": "normal", "slave": "slave", "replica": "slave", "pubsub": "pubsub"}
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2}
_UNITS |= {"g": 1000**3, "gb": 1024**3}
_SIZE = re.compile(r"([0-9]*)([a-zA-Z]*)")
ULLONG_MAX = 2**64 - 1


class OutputLimitError(ValueError):
    """A limit string Redis would refuse; the message is Redis's."""


@attrs.frozen(slots=True)
class OutputLimit:
    hard: int = 0
    soft: int = 0
    soft_seconds: int = 0


@attrs.frozen(slots=True)
class OutputLimits:
    """The limit of each class (Redis's defaults)."""

    normal: OutputLimit = OutputLimit()
    slave: OutputLimit = OutputLimit(256 << 20, 64 << 20, 60)
    pubsub: OutputLimit = OutputLimit(32 << 20, 8 << 20, 60)

    def of(self, kind: str) -> OutputLimit:
        limit: OutputLimit = getattr(self, kind)
        return limit

    def updated(self, text: str) -> OutputLimits:
        """These limits with the classes named in `text` replaced (all or nothing)."""
        words = text.split()
        if len(words) % 4:
            raise OutputLimitError("Wrong number of arguments in buffer limit configuration.")
        changes: dict[str, OutputLimit] = {}
        for i in range(0, len(words), 4):
            kind = _ALIASES.get(words[i].lower())
            if kind is None:
                raise OutputLimitError(
                    "Invalid client class specified in buffer limit configuration."
                )
            hard, soft, seconds = _size(words[i + 1]), _size(words[i + 2]), _seconds(words[i + 3])
            if hard is None or soft is None or seconds is None:
                raise OutputLimitError(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                )
            changes[kind] = OutputLimit(hard, soft, seconds)
        return attrs.evolve(self, **changes)

    def __str__(self) -> str:
        return " ".join(
            f"{kind} {limit.hard} {limit.soft} {limit.soft_seconds}"
            for kind in CLASSES
            for limit in (self.of(kind),)
        )


def parse_output_limits(text: str, base: OutputLimits | None = None) -> OutputLimits:
    """`text` applied over `base` (Redis's defaults when None); OutputLimitError if invalid."""
    return (base or OutputLimits()).updated(text)


def _size(word: str) -> int | None:
    """Redis's memtoull: digits, then an optional unit; no sign."""
    match = _SIZE.fullmatch(word)
    if match is None:
        return None
    digits, unit = match.groups()
    multiplier = _UNITS.get(unit.lower())
    if multiplier is None:
        return None
    value = int(digits) if digits else 0  # strtoull of no digits is 0, as Redis reads it
    return min(value, ULLONG_MAX) * multiplier & ULLONG_MAX


def _seconds(word: str) -> int | None:
    """strtoll with nothing after the number: optional leading blanks and sign."""
    text = word.lstrip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if value >= 0 else None


class LimitWatch:
    """The soft-limit clock of one client: `over()` says whether `pending` unread bytes,
    at monotonic time `now`, break `limit` (and remembers when the soft bound was first
    reached, as Redis's checkClientOutputBufferLimits does)."""

    __slots__ = ("soft_since",)

    def __init__(self) -> None:
        self.soft_since: float | None = None

    def over(self, limit: OutputLimit, pending: int, now: float) -> bool:
        if limit.hard and pending >= limit.hard:
            return True
        if not limit.soft or pending < limit.soft:
            self.soft_since = None
            return False
        if self.soft_since is None:
            self.soft_since = now
            return False
        return now - self.soft_since > limit.soft_seconds

    def soft_deadline(self, limit: OutputLimit) -> float | None:
        """When the soft bound will have been held too long (None: not reached)."""
        if self.soft_since is None or not limit.soft:
            return None
        return self.soft_since + limit.soft_seconds

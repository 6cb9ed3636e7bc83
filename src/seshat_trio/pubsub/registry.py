"""This node's subscriptions and the delivery of one message to them (sans-IO).

Three tables, as in Redis: channels, patterns, shard channels; each maps a name to its
subscribers in subscription order. A message goes to the channel's subscribers, then to the
subscribers of each matching pattern (a client subscribed both ways receives it twice and
counts twice, as in Redis); shard channels ignore patterns. Each message is encoded once,
as a RESP2 array; a subscriber speaking RESP3 turns the `*` into `>` (same bytes after it).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol

from seshat_trio.glob import stringmatch


class Kind(enum.Enum):
    CHANNEL = "channel"
    PATTERN = "pattern"
    SHARD = "shard"


class Subscriber(Protocol):
    def deliver(self, frame: bytes) -> None:
        """Take one encoded message (RESP2 array form); must not block."""
        ...


def encode_push(*parts: bytes) -> bytes:
    """A pub/sub message or confirmation as a RESP2 array of bulk strings."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


class Registry:
    def __init__(self) -> None:
        self._tables: dict[Kind, dict[bytes, dict[Subscriber, None]]] = {kind: {} for kind in Kind}

    def add(self, kind: Kind, name: bytes, subscriber: Subscriber) -> None:
        self._tables[kind].setdefault(name, {})[subscriber] = None

    def remove(self, kind: Kind, name: bytes, subscriber: Subscriber) -> None:
        table = self._tables[kind]
        subscribers = table.get(name)
        if subscribers is not None:
            subscribers.pop(subscriber, None)
            if not subscribers:  # no empty entries: a name costs nothing once unused
                del table[name]

    def publish(self, channel: bytes, message: bytes, *, shard: bool = False) -> int:
        """Deliver to this node's subscribers; returns how many deliveries were made."""
        receivers = 0
        subscribers = self._tables[Kind.SHARD if shard else Kind.CHANNEL].get(channel)
        if subscribers:
            frame = encode_push(b"smessage" if shard else b"message", channel, message)
            for subscriber in list(subscribers):
                subscriber.deliver(frame)
            receivers += len(subscribers)
        if shard:
            return receivers
        for pattern, subscribers in list(self._tables[Kind.PATTERN].items()):
            if stringmatch(pattern, channel):
                frame = encode_push(b"pmessage", pattern, channel, message)
                for subscriber in list(subscribers):
                    subscriber.deliver(frame)
                receivers += len(subscribers)
        return receivers

    def names(self, kind: Kind, pattern: bytes | None = None) -> list[bytes]:
        """Names with at least one subscriber (matching `pattern` if given)."""
        table = self._tables[kind]
        if pattern is None:
            return list(table)
        return [name for name in table if stringmatch(pattern, name)]

    def counts(self, kind: Kind, names: Iterable[bytes]) -> list[int]:
        table = self._tables[kind]
        return [len(table.get(name, ())) for name in names]

    def size(self, kind: Kind) -> int:
        return len(self._tables[kind])

"""Keyspace notifications: the events a data group's writes raise, published by its leader.

Every node applies every write, but only the node that leads the data group when it
applies one publishes its events, so each is raised once for the whole cluster (as a
message to every node's subscribers, like PUBLISH). Around a change of leader an event may
be lost (the old leader applied the write but fell before publishing) or, rarely, raised
twice (an old leader that does not know yet that it was deposed applies the write while
the new one applies it too); pub/sub is fire-and-forget in Redis too.

Which classes are raised is `notify-keyspace-events` (CONFIG SET, `[redis]`), read by the
leader when it applies.
"""

from __future__ import annotations

from collections.abc import Callable

from seshat_trio.pubsub import notify
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.tunables import Tunables


class KeyspaceNotifier:
    """A data group's `Notifier` (kv/state_machine.py)."""

    def __init__(self, tunables: Tunables, hub: PubSubHub, leads: Callable[[], bool]) -> None:
        self._tunables = tunables
        self._hub = hub
        self._leads = leads

    def flags(self) -> int:
        flags = self._tunables.notify_flags
        if not flags & (notify.KEYSPACE | notify.KEYEVENT) or not self._leads():
            return 0
        return flags

    def emit(self, flags: int, events: list[tuple[bytes, bytes]]) -> None:
        for event, key in events:
            for channel, message in notify.messages(flags, event, key):
                self._hub.broadcast(channel, message)

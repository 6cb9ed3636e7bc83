"""`notify-keyspace-events` as cluster state: one value for the whole cluster.

Keyspace notifications are raised by whichever node leads the data group, so the setting
must be the same on every node: CONFIG SET notify-keyspace-events proposes the operation
`notify_keyspace_events` to the system group (from any node; a follower's goes through
its leader) and every node adopts the value when it applies it (`NotifyFollower`), durably
and in snapshots like any system state. Until the cluster has a value, each node uses its
own `[redis] notify_keyspace_events`.
"""

from __future__ import annotations

from typing import Any

from seshat_trio.protocol import Reply, SimpleString
from seshat_trio.pubsub.notify import parse_flags
from seshat_trio.system import OperationRefused, SystemState, encode_operation, register_operation
from seshat_trio.tunables import Tunables

SECTION = "notify_keyspace_events"
OPERATION = "notify_keyspace_events"


def encode_notify_flags(text: str) -> bytes:
    return encode_operation(OPERATION, flags=text)


def _apply(state: SystemState, op: Any) -> tuple[dict[str, Any], Reply]:
    text = op.get("flags")
    if not isinstance(text, str):
        raise OperationRefused("ERR malformed notify-keyspace-events operation")
    try:
        parse_flags(text)
    except ValueError as exc:
        raise OperationRefused(
            f"ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - {exc}"
        ) from None
    return {SECTION: {"flags": text}}, SimpleString("OK")


class NotifyFollower:
    """A system-state subscriber: keeps this node's tunable equal to the cluster's value."""

    def __init__(self, tunables: Tunables) -> None:
        self._tunables = tunables

    def __call__(self, state: SystemState, changed: frozenset[str]) -> None:
        if SECTION not in changed:
            return
        section = state.section(SECTION)
        if isinstance(section, dict) and isinstance(section.get("flags"), str):
            self._tunables.notify_flags = parse_flags(section["flags"])


register_operation(OPERATION, _apply)

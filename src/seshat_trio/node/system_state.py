"""The system group's (group 0) deterministic state machine: cluster members and shard map.

State: the cluster members (node id -> internal Raft address) and the
shard map (slot ranges -> data group). Phase 1 has one shard covering every slot, served by
data group 1. Both live in `system_data` records (`put_system`) next to the applied index,
written in one batch per apply run like the KV state machine, so state and index agree.

Operations are small JSON documents (`{"v": 1, "op": ...}`): they are rare, tiny and worth
being readable in a log dump; decoding is strict, and an operation this build does not know
stops the apply loudly instead of diverging from newer nodes. Only `bootstrap` exists: the
first leader of group 0 proposes it once (`bootstrap_system_group`); applying it when the
state is already set is a no-op (reply 0), so a re-proposal after a leader change is safe.

Snapshot: the two records themselves (one chunk), applied index carried by the driver.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from seshat_trio.errors import ServiceError
from seshat_trio.raft import NotLeader, Role
from seshat_trio.replication.driver import RaftGroupDriver
from seshat_trio.replication.machine import Applied, unapplied
from seshat_trio.slots import SLOT_COUNT
from seshat_trio.storage import SYSTEM_GROUP, Store, WriteBatch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DATA_GROUP = 1
_MEMBERS = "members"
_SHARDS = "shards"


@attrs.frozen(slots=True)
class NodeAddresses:
    """A member as the cluster records it. Client addresses are not replicated: each node
    announces its own in the transport's Hello frame, so they are always current."""

    node_id: int
    raft_addr: str


@attrs.frozen(slots=True)
class Shard:
    """Slots `first_slot..last_slot` (inclusive) are served by data group `group`."""

    first_slot: int
    last_slot: int
    group: int


@attrs.frozen(slots=True)
class ClusterLayout:
    members: tuple[NodeAddresses, ...]
    shards: tuple[Shard, ...]


def single_shard_layout(members: Iterable[NodeAddresses]) -> ClusterLayout:
    """Phase 1: every slot in one shard, served by data group 1."""
    ordered = tuple(sorted(members, key=lambda m: m.node_id))
    return ClusterLayout(ordered, (Shard(0, SLOT_COUNT - 1, DATA_GROUP),))


class SystemStateError(ValueError):
    """Bytes that are not a valid system operation or record of a known version."""


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _members_json(members: tuple[NodeAddresses, ...]) -> list[dict[str, Any]]:
    return [attrs.asdict(m) for m in members]


def _shards_json(shards: tuple[Shard, ...]) -> list[dict[str, Any]]:
    return [attrs.asdict(s) for s in shards]


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SystemStateError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
        raise SystemStateError(
            f"{what} has an unsupported format (this build reads version {FORMAT_VERSION})"
        )
    return document


def _members_from(items: Any, what: str) -> tuple[NodeAddresses, ...]:
    try:
        return tuple(NodeAddresses(int(i["node_id"]), str(i["raft_addr"])) for i in items)
    except (KeyError, TypeError, ValueError) as exc:
        raise SystemStateError(f"{what} has a malformed member list: {exc!r}") from exc


def _shards_from(items: Any, what: str) -> tuple[Shard, ...]:
    try:
        return tuple(
            Shard(int(i["first_slot"]), int(i["last_slot"]), int(i["group"])) for i in items
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SystemStateError(f"{what} has a malformed shard list: {exc!r}") from exc


def encode_bootstrap(layout: ClusterLayout) -> bytes:
    return _dumps(
        {
            "v": FORMAT_VERSION,
            "op": "bootstrap",
            "members": _members_json(layout.members),
            "shards": _shards_json(layout.shards),
        }
    )


def decode_operation(data: bytes) -> ClusterLayout:
    document = _load(data, "system operation")
    if document.get("op") != "bootstrap":
        raise SystemStateError(f"unknown system operation {document.get('op')!r}")
    return ClusterLayout(
        _members_from(document.get("members"), "system operation"),
        _shards_from(document.get("shards"), "system operation"),
    )


class SystemStateMachine:
    """State machine of group 0 (fits `replication.machine.StateMachine`)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.applied_index = 0
        self.layout: ClusterLayout | None = None
        self.reload()

    def reload(self) -> None:
        """Re-read state and applied index from the store (start-up, snapshot install)."""
        self.applied_index = self._store.applied(SYSTEM_GROUP)
        members = self._store.get_system(SYSTEM_GROUP, _MEMBERS)
        shards = self._store.get_system(SYSTEM_GROUP, _SHARDS)
        if members is None or shards is None:
            self.layout = None
            return
        self.layout = ClusterLayout(
            _members_from(_load(members, "members record").get("items"), "members record"),
            _shards_from(_load(shards, "shards record").get("items"), "shards record"),
        )

    def apply(self, entries: Iterable[tuple[int, bytes | None]]) -> list[Applied]:
        results: list[Applied] = []
        last = self.applied_index
        layout = self.layout
        for index, data in unapplied(entries, self.applied_index):
            last = index
            if data is None:
                results.append(Applied(index, ()))
                continue
            try:
                proposed = decode_operation(data)
            except SystemStateError as exc:
                # Only nodes of some build propose these: refuse loudly rather than diverge.
                raise RuntimeError(f"cannot apply system entry {index}: {exc}") from exc
            taken = layout is None
            if taken:
                layout = proposed
            results.append(Applied(index, (1 if taken else 0,)))
        if last != self.applied_index:
            batch = WriteBatch()
            if layout is not None and layout != self.layout:
                _put_layout(batch, layout)
            batch.put_applied(SYSTEM_GROUP, last)
            self._store.write(batch, sync=False)
            self.applied_index, self.layout = last, layout
        return results

    def open_snapshot(self) -> _SystemSnapshot:
        return _SystemSnapshot(self.applied_index, self.layout)

    def begin_install(self) -> _SystemInstaller:
        return _SystemInstaller(self._store)


def _put_layout(batch: WriteBatch, layout: ClusterLayout) -> None:
    members = {"v": FORMAT_VERSION, "items": _members_json(layout.members)}
    shards = {"v": FORMAT_VERSION, "items": _shards_json(layout.shards)}
    batch.put_system(SYSTEM_GROUP, _MEMBERS, _dumps(members))
    batch.put_system(SYSTEM_GROUP, _SHARDS, _dumps(shards))


@attrs.define(slots=True)
class _SystemSnapshot:
    applied: int
    layout: ClusterLayout | None

    def chunks(self, max_bytes: int) -> Iterator[bytes]:
        # The state is a few hundred bytes: one chunk whatever max_bytes says.
        if self.layout is not None:
            yield encode_bootstrap(self.layout)

    def close(self) -> None:
        """Nothing to release: the view is a copy."""


class _SystemInstaller:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._layout: ClusterLayout | None = None

    def add_chunk(self, chunk: bytes) -> None:
        self._layout = decode_operation(chunk)

    def finish(self, batch: WriteBatch | None = None) -> None:
        combined = WriteBatch()
        if self._layout is not None:
            _put_layout(combined, self._layout)
        if batch is not None:
            combined.extend(batch)
        self._store.write(combined, sync=True)

    def abort(self) -> None:
        self._layout = None


async def bootstrap_system_group(
    driver: RaftGroupDriver, machine: SystemStateMachine, layout: ClusterLayout
) -> None:
    """Propose the initial layout once this node leads group 0 and finds none applied.

    Runs until the layout is applied (by anyone); several nodes may race through a
    leadership change and propose it twice, which applies as a no-op the second time.
    """
    while machine.layout is None:
        if driver.role is Role.LEADER:
            try:
                await driver.read_barrier()  # everything committed before us is applied
                if machine.layout is None:
                    replies = await driver.propose(encode_bootstrap(layout))
                    log.info(
                        "system_bootstrap node=%d group=%d proposed=1 taken=%s",
                        driver.node_id,
                        SYSTEM_GROUP,
                        replies,
                    )
            except (NotLeader, ServiceError) as exc:
                log.info("system_bootstrap node=%d retry reason=%r", driver.node_id, str(exc))
        await driver.wait_changed()

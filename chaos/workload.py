"""Concurrent Trio clients that record a Jepsen-style history of GET/SET/DEL.

Every operation is recorded in a `HistoryRecorder` (seshat_trio.testing.history) with the
client's invoke and completion times and what the client can prove (docs/errors.md):

- OK:   `+OK` for SET, an integer for DEL, a value or nil for GET;
- FAIL: a reply that says "not applied" (NOLEADER, TRYAGAIN, MOVED, `ERR the write was not
        committed`, `ERR the leader could not execute`), and every error of a read;
- INFO: TIMEOUT replies ("may or may not have been applied"), a client-side timeout, a
        broken connection after the request was sent, and any error this module does not
        know (also counted in `unexpected_errors`, which the tests assert is empty).

Written values are unique (`c<client>-<seq>`), so a read names the write it observed.
Keys are spread over the cluster's data groups (`spread_keys`): key j lives in group
j mod G + 1 of a new cluster's slot map, so the history checked covers every group.
A client that timed out or lost its connection reconnects (its old connection may still
deliver a stale reply) and moves on to the next node of its list.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import attrs
import trio

from chaos.settings import load_settings
from seshat_trio.client import RedisReplyError, RespClient
from seshat_trio.slots import key_slot
from seshat_trio.system.placement import initial_shard_map
from seshat_trio.testing.history import HistoryRecorder, Operation, OpKind, OpStatus
from seshat_trio.testing.linearizability import CheckResult, check_linearizable

#: Error codes that prove the write was not applied (docs/errors.md).
NOT_APPLIED_CODES = frozenset({"NOLEADER", "TRYAGAIN", "MOVED"})
NOT_APPLIED_PREFIXES = (
    "ERR the write was not committed",
    "ERR the leader could not execute",
)
#: Error codes of an unknown outcome.
UNKNOWN_CODES = frozenset({"TIMEOUT"})
CONNECT_TIMEOUT = 1.0
Connector = Callable[[int], Awaitable[RespClient]]
FINAL_READER = 100_000  # client id of the final reads


def spread_keys(names: Sequence[str], groups: int) -> list[bytes]:
    """`names` as keys, the j-th given the smallest `~n` suffix (if any) that puts it in data
    group j mod `groups` + 1 of a new cluster's slot map (`initial_shard_map`)."""
    table = initial_shard_map([1], groups).slot_table()
    keys = []
    for j, name in enumerate(names):
        wanted, key, n = j % groups + 1, name.encode(), 0
        while table[key_slot(key)] != wanted:
            n += 1
            key = f"{name}~{n}".encode()
        keys.append(key)
    return keys


def groups_of(keys: Sequence[bytes], groups: int) -> set[int]:
    """The data groups `keys` live in (a new cluster's slot map)."""
    table = initial_shard_map([1], groups).slot_table()
    return {table[key_slot(key)] for key in keys}


@attrs.frozen(slots=True)
class Record:
    """One operation as the workload saw it: the node asked and the error text, if any."""

    node: int
    op: Operation
    error: str | None


def classify_error(kind: OpKind, text: str) -> tuple[OpStatus, bool]:
    """(status, known) for an error reply to an operation of `kind`."""
    code = text.split(" ", 1)[0]
    if kind is OpKind.READ:
        return OpStatus.FAIL, code in NOT_APPLIED_CODES | UNKNOWN_CODES
    if code in NOT_APPLIED_CODES or text.startswith(NOT_APPLIED_PREFIXES):
        return OpStatus.FAIL, True
    return OpStatus.INFO, code in UNKNOWN_CODES


class Workload:
    """`clients` concurrent clients over `keys`, talking to the nodes of `ports`."""

    def __init__(
        self,
        ports: dict[int, int],
        *,
        clients: int,
        keys: int,
        seed: int,
        op_timeout: float = 6.0,
        think: float = 0.01,
        write_ratio: float = 0.4,
        delete_ratio: float = 0.05,
        first_client: int = 0,
        recorder: HistoryRecorder | None = None,
        connect: Connector | None = None,
        groups: int | None = None,
    ) -> None:
        self.ports = ports
        self.groups = groups if groups is not None else load_settings().groups
        # How a client connects to a node (a plain, anonymous connection by default).
        self.connect = connect or (lambda node: RespClient.connect("127.0.0.1", ports[node]))
        self.clients = clients
        self.key_count = keys
        self.epoch = 0
        self.keys = self._keys_of(0)
        self.seed = seed
        self.op_timeout = op_timeout
        self.think = think
        self.write_ratio = write_ratio
        self.delete_ratio = delete_ratio
        self.first_client = first_client
        self.recorder = recorder if recorder is not None else HistoryRecorder(trio.current_time)
        self.records: list[Record] = []
        self.unexpected_errors: Counter[str] = Counter()
        self._stopping = False
        self._seq: Counter[int] = Counter()  # per client, across `running` blocks

    def _keys_of(self, epoch: int) -> list[bytes]:
        prefix = f"e{epoch}:" if epoch else ""
        return spread_keys([f"{prefix}k{j}" for j in range(self.key_count)], self.groups)

    def rotate(self) -> tuple[HistoryRecorder, list[Record]]:
        """Start a new epoch on fresh keys with a fresh recorder; returns the old epoch's
        recorder and records. Operations in flight still close into the old ones, so check
        the old epoch only after `op_timeout` has passed (its keys are never used again,
        so its history is complete then). Keeps a soak's memory and checks bounded."""
        old = (self.recorder, self.records)
        self.epoch += 1
        self.keys = self._keys_of(self.epoch)
        self.recorder = HistoryRecorder(trio.current_time)
        self.records = []
        return old

    # ---------------------------------------------------------------- running

    @asynccontextmanager
    async def running(self, nodes: Sequence[int] | None = None) -> AsyncIterator[Workload]:
        """Clients run while the block runs; on exit each finishes its current operation
        (bounded by `op_timeout`) and stops. Client i starts on node `nodes[i % len]`."""
        order = list(nodes) if nodes is not None else sorted(self.ports)
        self._stopping = False
        async with trio.open_nursery() as nursery:
            for c in range(self.clients):
                client_id = self.first_client + c
                start = c % len(order)
                nursery.start_soon(
                    self._client, client_id, order[start:] + order[:start], self.seed + client_id
                )
            try:
                yield self
            finally:
                self._stopping = True
                # Bounded: an operation never outlives op_timeout, plus a reconnect.
                nursery.cancel_scope.deadline = trio.current_time() + self.op_timeout + 3

    async def _client(self, client_id: int, nodes: list[int], seed: int) -> None:
        rng = random.Random(seed)
        turn = 0
        conn: RespClient | None = None
        try:
            while not self._stopping:
                node = nodes[turn % len(nodes)]
                if conn is None:
                    conn = await self._connect(node)
                    if conn is None:
                        turn += 1
                        await trio.sleep(0.05)
                        continue
                key = rng.choice(self.keys)
                roll = rng.random()
                if roll < self.write_ratio:
                    self._seq[client_id] += 1
                    kind, value = OpKind.WRITE, f"c{client_id}-{self._seq[client_id]}".encode()
                elif roll < self.write_ratio + self.delete_ratio:
                    kind, value = OpKind.DELETE, None
                else:
                    kind, value = OpKind.READ, None
                healthy = await self._operate(
                    conn, node=node, client_id=client_id, kind=kind, key=key, value=value
                )
                if not healthy:
                    await conn.aclose()
                    conn = None
                    turn += 1
                await trio.sleep(rng.uniform(0, self.think))
        finally:
            if conn is not None:
                with trio.CancelScope(shield=True):
                    await conn.aclose()

    async def _connect(self, node: int) -> RespClient | None:
        try:
            with trio.fail_after(CONNECT_TIMEOUT):
                return await self.connect(node)
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, RedisReplyError):
            return None

    async def _operate(
        self,
        conn: RespClient,
        *,
        node: int,
        client_id: int,
        kind: OpKind,
        key: bytes,
        value: bytes | None,
    ) -> bool:
        """Run and record one operation; False when the connection must be replaced."""
        if kind is OpKind.WRITE:
            assert value is not None
            command: tuple[bytes, ...] = (b"SET", key, value)
        elif kind is OpKind.DELETE:
            command = (b"DEL", key)
        else:
            command = (b"GET", key)
        # The epoch's recorder and record list, even if `rotate` runs meanwhile.
        recorder, records = self.recorder, self.records
        handle = recorder.invoke(client_id, kind, key, value)

        def close(status: OpStatus, observed: bytes | None, error: str | None) -> None:
            if status is OpStatus.OK:
                op = recorder.ok(handle, observed)
            elif status is OpStatus.FAIL:
                op = recorder.fail(handle)
            else:
                op = recorder.info(handle)
            records.append(Record(node, op, error))

        try:
            with trio.fail_after(self.op_timeout):
                reply = await conn.call(*command)
        except trio.TooSlowError:
            close(OpStatus.INFO, None, "client timeout")
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            close(OpStatus.INFO, None, f"connection lost: {exc!r}")
            return False
        if isinstance(reply, RedisReplyError):
            text = str(reply)
            status, known = classify_error(kind, text)
            if not known:
                self.unexpected_errors[text] += 1
            close(status, None, text)
            return True
        if kind is OpKind.WRITE and reply != b"OK":
            self.unexpected_errors[f"SET replied {reply!r}"] += 1
            close(OpStatus.INFO, None, repr(reply))
            return True
        if kind is OpKind.READ and reply is not None and not isinstance(reply, bytes):
            self.unexpected_errors[f"GET replied {reply!r}"] += 1
            close(OpStatus.FAIL, None, repr(reply))
            return True
        observed = reply if isinstance(reply, bytes) and kind is OpKind.READ else None
        close(OpStatus.OK, observed, None)
        return True

    # ---------------------------------------------------------------- results

    async def final_reads(
        self, nodes: Sequence[int], timeout: float = 30.0
    ) -> dict[bytes, bytes | None]:
        """Read every key once (retrying on errors, bounded by `timeout`) and record each
        successful read in the history; returns key -> value."""
        values: dict[bytes, bytes | None] = {}
        with trio.fail_after(timeout):
            for key in self.keys:
                turn = 0
                while key not in values:
                    node = nodes[turn % len(nodes)]
                    turn += 1
                    conn = await self._connect(node)
                    if conn is None:
                        await trio.sleep(0.1)
                        continue
                    async with conn:
                        before = len(self.records)
                        await self._operate(
                            conn,
                            node=node,
                            client_id=FINAL_READER,
                            kind=OpKind.READ,
                            key=key,
                            value=None,
                        )
                    last = self.records[-1] if len(self.records) > before else None
                    if last is not None and last.op.status is OpStatus.OK:
                        values[key] = last.op.value
                    else:
                        await trio.sleep(0.1)
        return values

    def check(self) -> CheckResult:
        return check_linearizable(self.recorder.history())

    def counts(self) -> Counter[str]:
        """'<kind>/<status>' -> number of operations."""
        return Counter(f"{r.op.kind.value}/{r.op.status.value}" for r in self.records)

    def ok_writes(self) -> list[Operation]:
        return [
            r.op for r in self.records if r.op.kind is OpKind.WRITE and r.op.status is OpStatus.OK
        ]

    def between(self, start: float, end: float, nodes: Sequence[int] | None = None) -> list[Record]:
        """Records invoked in [start, end) (optionally only those sent to `nodes`)."""
        return [
            r
            for r in self.records
            if start <= r.op.invoke < end and (nodes is None or r.node in nodes)
        ]

    def summary(self) -> str:
        counts = self.counts()
        parts = [f"{name}={counts[name]}" for name in sorted(counts)]
        covered = groups_of(self.keys, self.groups)
        parts.append(f"keys={len(self.keys)} in groups {sorted(covered)} of {self.groups}")
        if self.unexpected_errors:
            parts.append(f"unexpected={dict(self.unexpected_errors)}")
        return " ".join(parts)

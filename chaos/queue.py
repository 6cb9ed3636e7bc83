"""A job-queue workload on lists: producers RPUSH unique elements, consumers take them with
LPOP and BLPOP, every outcome recorded, and the check that no element was lost or taken
twice.

Each element is pushed once, by one producer (`<key>|p<client>-<seq>`). Outcomes follow
docs/errors.md: a push or pop is acknowledged (a reply), failed (an error saying it was not
applied), or unknown (TIMEOUT, a client timeout, a broken connection, any other error). At
the end the lists are read (LRANGE on a node that answers), and `check` proves:

- no element was popped twice (by acknowledged pops), nor popped and still in a list;
- nothing appears that was never pushed or whose push failed;
- every acknowledged push is still in its list or was popped by an acknowledged pop,
  except at most one element per pop whose outcome is unknown (each pop takes at most
  one: LPOP and BLPOP without COUNT), since such a pop may have taken it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import attrs
import trio

from chaos.workload import CONNECT_TIMEOUT, NOT_APPLIED_CODES, NOT_APPLIED_PREFIXES
from seshat_trio.client import RedisReplyError, RespClient

BLOCK_SECONDS = b"1"
LOST = object()  # no reply: the outcome is unknown


@attrs.define
class QueueHistory:
    """What the clients saw (elements as bytes)."""

    acked_pushes: set[bytes] = attrs.field(factory=set)
    failed_pushes: set[bytes] = attrs.field(factory=set)
    unknown_pushes: set[bytes] = attrs.field(factory=set)
    popped: list[bytes] = attrs.field(factory=list)  # by acknowledged pops, in order
    blocked_pops_served: int = 0
    empty_pops: int = 0
    failed_pops: int = 0
    unknown_pops: int = 0
    errors: Counter[str] = attrs.field(factory=Counter)


def _not_applied(text: str) -> bool:
    return text.split(" ", 1)[0] in NOT_APPLIED_CODES or text.startswith(NOT_APPLIED_PREFIXES)


class QueueWorkload:
    """`producers` + `consumers` clients over `keys` lists on the nodes of `ports`."""

    def __init__(
        self,
        ports: dict[int, int],
        *,
        producers: int,
        consumers: int,
        keys: int,
        seed: int,
        op_timeout: float = 6.0,
    ) -> None:
        self.ports = ports
        self.producers = producers
        self.consumers = consumers
        self.keys = [f"queue{j}".encode() for j in range(keys)]
        self.seed = seed
        self.op_timeout = op_timeout
        self.history = QueueHistory()
        self._stopping = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[QueueWorkload]:
        order = sorted(self.ports)
        self._stopping = False
        async with trio.open_nursery() as nursery:
            for c in range(self.producers + self.consumers):
                nodes = order[c % len(order) :] + order[: c % len(order)]
                nursery.start_soon(self._client, c, nodes, c < self.producers)
            try:
                yield self
            finally:
                self._stopping = True
                nursery.cancel_scope.deadline = trio.current_time() + self.op_timeout + 3

    async def _client(self, client_id: int, nodes: list[int], producer: bool) -> None:
        rng = random.Random(self.seed * 1000 + client_id)
        seq = turn = 0
        conn: RespClient | None = None
        try:
            while not self._stopping:
                if conn is None:
                    conn = await self._connect(nodes[turn % len(nodes)])
                    if conn is None:
                        turn += 1
                        await trio.sleep(0.05)
                        continue
                key = rng.choice(self.keys)
                if producer:
                    seq += 1
                    healthy = await self._push(conn, key, b"%s|p%d-%d" % (key, client_id, seq))
                else:
                    healthy = await self._pop(conn, key, blocking=rng.random() < 0.5)
                if not healthy:
                    await conn.aclose()
                    conn = None
                    turn += 1
                await trio.sleep(rng.uniform(0, 0.01))
        finally:
            if conn is not None:
                with trio.CancelScope(shield=True):
                    await conn.aclose()

    async def _connect(self, node: int) -> RespClient | None:
        try:
            with trio.fail_after(CONNECT_TIMEOUT):
                return await RespClient.connect("127.0.0.1", self.ports[node])
        except (OSError, trio.TooSlowError, trio.BrokenResourceError, RedisReplyError):
            return None

    async def _call(self, conn: RespClient, *command: bytes) -> object:
        """The reply (a RedisReplyError for an error), or LOST (timeout, broken link)."""
        try:
            with trio.fail_after(self.op_timeout):
                reply: object = await conn.call(*command)
        except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return LOST
        return reply

    async def _push(self, conn: RespClient, key: bytes, element: bytes) -> bool:
        h = self.history
        reply = await self._call(conn, b"RPUSH", key, element)
        if isinstance(reply, int):
            h.acked_pushes.add(element)
        elif isinstance(reply, RedisReplyError) and _not_applied(str(reply)):
            h.failed_pushes.add(element)
        else:
            h.unknown_pushes.add(element)
            if isinstance(reply, RedisReplyError):
                h.errors[str(reply).split(" ", 1)[0]] += 1
        return not (reply is LOST or isinstance(reply, RedisReplyError))

    async def _pop(self, conn: RespClient, key: bytes, *, blocking: bool) -> bool:
        h = self.history
        command = (b"BLPOP", key, BLOCK_SECONDS) if blocking else (b"LPOP", key)
        reply = await self._call(conn, *command)
        if isinstance(reply, RedisReplyError):
            if _not_applied(str(reply)):
                h.failed_pops += 1
            else:
                h.unknown_pops += 1
                h.errors[str(reply).split(" ", 1)[0]] += 1
            return False
        if reply is LOST:
            h.unknown_pops += 1
            return False
        if reply is None:
            h.empty_pops += 1
            return True
        if blocking:
            assert isinstance(reply, list) and reply[0] == key, reply
            h.popped.append(reply[1])
            h.blocked_pops_served += 1
        else:
            assert isinstance(reply, bytes), reply
            h.popped.append(reply)
        return True

    async def final_lists(self, nodes: Sequence[int], timeout: float = 30.0) -> list[bytes]:
        """Every element still in a list (LRANGE on the first node that answers)."""
        remaining: list[bytes] = []
        with trio.fail_after(timeout):
            for key in self.keys:
                turn = 0
                while True:
                    conn = await self._connect(nodes[turn % len(nodes)])
                    turn += 1
                    if conn is not None:
                        async with conn:
                            reply = await self._call(conn, b"LRANGE", key, b"0", b"-1")
                        if isinstance(reply, list):
                            assert all(e.startswith(key + b"|") for e in reply), key
                            remaining += reply
                            break
                    await trio.sleep(0.1)
        return remaining

    def check(self, remaining: list[bytes]) -> None:
        """The module's guarantees (AssertionError naming what broke)."""
        h = self.history
        popped = Counter(h.popped)
        twice = [e for e, n in popped.items() if n > 1]
        assert not twice, f"popped twice: {twice[:10]}"
        left = Counter(remaining)
        assert all(n == 1 for n in left.values()), "an element is twice in the lists"
        both = set(popped) & set(left)
        assert not both, f"popped and still in a list: {sorted(both)[:10]}"
        seen = set(popped) | set(left)
        pushed = h.acked_pushes | h.unknown_pushes
        assert seen <= pushed, f"never pushed (or failed): {sorted(seen - pushed)[:10]}"
        assert not seen & h.failed_pushes, "a push answered as not applied was applied"
        lost = h.acked_pushes - seen
        assert len(lost) <= h.unknown_pops, (
            f"{len(lost)} acknowledged pushes are gone with only {h.unknown_pops} pops of "
            f"unknown outcome: {sorted(lost)[:10]}"
        )

    def summary(self) -> str:
        h = self.history
        return (
            f"pushes ok={len(h.acked_pushes)} failed={len(h.failed_pushes)} "
            f"unknown={len(h.unknown_pushes)}; pops ok={len(h.popped)} "
            f"(blocking {h.blocked_pops_served}) empty={h.empty_pops} failed={h.failed_pops} "
            f"unknown={h.unknown_pops}; errors {dict(h.errors)}"
        )

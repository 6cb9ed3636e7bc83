"""Routing commands to data groups by their keys' slots: one group runs them, several
answer CROSSSLOT, a forwarded request's keys must still map to its group."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import trio
from tests.commands.test_dispatch import FakeBackend

from seshat_trio.commands.context import ClientState, CommandContext
from seshat_trio.commands.dispatch import WATCH_REMOTE, execute
from seshat_trio.commands.routing import CROSSSLOT, REROUTED, command_keys
from seshat_trio.commands.table import COMMANDS
from seshat_trio.config import ClusterSection, Config, NodeSection, Redirect
from seshat_trio.errors import MOVED_WHILE_FORWARDED
from seshat_trio.protocol import ErrorReply, RawReplies, SimpleString
from seshat_trio.slots import key_slot

HALF = 8192


class TwoGroups(FakeBackend):
    """A node with two data groups: slots below 8192 in group 1, the rest in group 2."""

    def __init__(self) -> None:
        super().__init__()
        self.low, self.high = FakeBackend(), FakeBackend()
        self.high.group = 2
        self.map_known = True

    def group_for_slot(self, slot: int) -> FakeBackend | None:  # type: ignore[override]
        if not self.map_known:
            return None
        return self.low if slot < HALF else self.high

    def local_group(self, group: int) -> FakeBackend | None:  # type: ignore[override]
        return {1: self.low, 2: self.high}.get(group)

    def data_groups(self) -> list[FakeBackend]:  # type: ignore[override]
        return [self.low, self.high]


def keys_in(group: int, count: int) -> list[bytes]:
    found = []
    for i in range(1000):
        key = b"k%d" % i
        if (key_slot(key) < HALF) == (group == 1):
            found.append(key)
            if len(found) == count:
                return found
    raise AssertionError("no keys")


def ctx_for(node: TwoGroups, routed_group: int | None = None) -> CommandContext:
    client = ClientState(id=1, addr="a", forwarded=routed_group is not None)
    return CommandContext(client, node, Config(node=NodeSection(id=1)), routed_group=routed_group)


async def run(ctx: CommandContext, *commands: list[bytes]) -> list[object]:
    node = ctx.backend
    assert isinstance(node, TwoGroups)
    result: list[list[object]] = []
    async with trio.open_nursery() as nursery:

        async def go() -> None:
            result.append(list(await execute(ctx, list(commands))))

        nursery.start_soon(go)
        for _ in range(50):
            await trio.testing.wait_all_tasks_blocked()
            node.low.release()
            node.high.release()
    return result[0]


async def test_each_write_runs_in_its_keys_group() -> None:
    node = TwoGroups()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    replies = await run(ctx_for(node), [b"SET", a, b"1"], [b"SET", b, b"2"])
    assert replies == [SimpleString("OK"), SimpleString("OK")]
    assert node.low.data == {a: b"1"} and node.high.data == {b: b"2"}


async def test_keys_of_two_groups_answer_crossslot_and_hash_tags_keep_them_together() -> None:
    node = TwoGroups()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    assert await run(ctx_for(node), [b"MSET", a, b"1", b, b"2"]) == [CROSSSLOT]
    assert await run(ctx_for(node), [b"RENAME", a, b]) == [CROSSSLOT]
    assert node.low.data == {} and node.high.data == {}
    tagged = [b"{user1}:a", b"{user1}:b"]  # one slot, whatever follows the tag
    await run(ctx_for(node), [b"SET", tagged[0], b"1"], [b"SET", tagged[1], b"2"])
    assert await run(ctx_for(node), [b"MGET", *tagged]) == [[b"1", b"2"]]
    assert await run(ctx_for(node), [b"DEL", *tagged]) == [2]


async def test_a_transaction_over_two_groups_is_refused_whole() -> None:
    node = TwoGroups()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    replies = await run(ctx_for(node), [b"MULTI"], [b"SET", a, b"1"], [b"SET", b, b"2"], [b"EXEC"])
    assert replies[-1] == CROSSSLOT
    assert node.low.data == {} and node.high.data == {}
    same = keys_in(1, 2)
    replies = await run(
        ctx_for(node), [b"MULTI"], [b"SET", same[0], b"1"], [b"SET", same[1], b"2"], [b"EXEC"]
    )
    assert not isinstance(replies[-1], ErrorReply)


async def test_a_forwarded_request_runs_only_its_groups_keys() -> None:
    node = TwoGroups()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    replies = await run(ctx_for(node, routed_group=2), [b"SET", a, b"1"], [b"SET", b, b"2"])
    assert replies == [REROUTED, SimpleString("OK")]
    assert node.low.data == {} and node.high.data == {b: b"2"}
    # Keyless commands run in the request's group.
    assert await run(ctx_for(node, routed_group=2), [b"DBSIZE"]) == [1]


async def test_commands_wait_for_the_shard_map() -> None:
    node = TwoGroups()
    node.map_known = False
    known = trio.Event()

    async def wait_for_map() -> None:
        await known.wait()

    node.wait_for_map = wait_for_map  # type: ignore[method-assign]
    (a,) = keys_in(1, 1)
    result: list[object] = []
    async with trio.open_nursery() as nursery:

        async def go() -> None:
            result.extend(await run(ctx_for(node), [b"SET", a, b"1"]))

        nursery.start_soon(go)
        await trio.testing.wait_all_tasks_blocked()
        assert result == [] and node.low.data == {}
        node.map_known = True
        known.set()
    assert result == [SimpleString("OK")] and node.low.data == {a: b"1"}


async def test_mget_exists_del_split_over_groups_and_merge_in_key_order() -> None:
    node = TwoGroups()
    low, high = keys_in(1, 2), keys_in(2, 2)
    await run(ctx_for(node), *([b"SET", k, k + b"!"] for k in low + high))
    mixed = [high[0], low[0], b"{nope}", high[1], low[1]]
    assert await run(ctx_for(node), [b"MGET", *mixed]) == [
        [high[0] + b"!", low[0] + b"!", None, high[1] + b"!", low[1] + b"!"]
    ]
    assert await run(ctx_for(node), [b"EXISTS", *mixed, low[0]]) == [5]
    assert await run(ctx_for(node), [b"DEL", low[0], high[0], b"{nope}"]) == [2]
    assert node.low.data == {low[1]: low[1] + b"!"}
    assert node.high.data == {high[1]: high[1] + b"!"}


async def test_keyspace_wide_commands_run_in_every_group() -> None:
    node = TwoGroups()
    low, high = keys_in(1, 3), keys_in(2, 3)
    await run(ctx_for(node), *([b"SET", k, b"v"] for k in low + high))
    assert await run(ctx_for(node), [b"DBSIZE"]) == [6]
    (keys,) = await run(ctx_for(node), [b"KEYS", b"*"])
    assert isinstance(keys, list) and sorted(keys) == sorted(low + high)
    assert (await run(ctx_for(node), [b"RANDOMKEY"]))[0] in low + high
    seen: list[bytes] = []
    cursor = b"0"
    for _ in range(20):
        ((cursor, batch),) = await run(ctx_for(node), [b"SCAN", cursor, b"COUNT", b"2"])
        assert isinstance(batch, list)
        seen.extend(batch)
        assert int(cursor) < 2**64
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(low + high)
    assert await run(ctx_for(node), [b"SCAN", b"x"]) == [ErrorReply("ERR invalid cursor")]


class RemoteHigh(TwoGroups):
    """Group 2 has no replica here: every command of it is forwarded (FakeBackend.forward
    answers `+FWD <first argument>` per command)."""

    def __init__(self) -> None:
        super().__init__()
        self.high.hosted = False
        self.high.remote_leader_known = True


async def test_reads_and_writes_of_a_group_not_hosted_here_are_forwarded_in_order() -> None:
    node = RemoteHigh()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    replies = await run(
        ctx_for(node), [b"SET", b, b"1"], [b"GET", b], [b"SET", a, b"2"], [b"GET", b]
    )
    fwd = b"+FWD %s\r\n" % b
    assert replies == [RawReplies(fwd * 2, 2), SimpleString("OK"), RawReplies(fwd, 1)]
    # The first write and read travelled as one request, before the local write ran.
    assert node.high.forwarded == [[[b"SET", b, b"1"], [b"GET", b]], [[b"GET", b]]]
    assert node.low.data == {a: b"2"} and node.high.data == {}


async def test_a_keyspace_wide_command_reaches_groups_not_hosted_here() -> None:
    node = RemoteHigh()
    (a,) = keys_in(1, 1)
    await run(ctx_for(node), [b"SET", a, b"v"])

    async def replica_has_five(
        commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        node.high.forwarded.append([list(c) for c in commands])
        return b":5\r\n"

    node.high.forward = replica_has_five  # type: ignore[method-assign]
    assert await run(ctx_for(node), [b"DBSIZE"]) == [6]
    assert node.high.forwarded == [[[b"DBSIZE"]]]


async def test_a_forwarded_request_for_a_group_not_hosted_here_goes_back_whole() -> None:
    node = RemoteHigh()
    (a,), (b,) = keys_in(2, 1), keys_in(2, 1)
    replies = await run(ctx_for(node, routed_group=2), [b"GET", a], [b"SET", b, b"1"])
    assert replies == [ErrorReply(MOVED_WHILE_FORWARDED)] * 2
    assert node.high.forwarded == []


async def test_watch_of_a_key_not_hosted_here_is_refused_clearly() -> None:
    node = RemoteHigh()
    (b,) = keys_in(2, 1)
    assert await run(ctx_for(node), [b"WATCH", b]) == [WATCH_REMOTE]


def moved_ctx(node: TwoGroups) -> CommandContext:
    """A client of a node in `redirect = moved` mode that leads group 1 but not group 2."""
    node.high.leading = False
    node.high.remote_leader_known = True
    node.low.leader_found_locally = True
    config = Config(node=NodeSection(id=1), cluster=ClusterSection(redirect=Redirect.MOVED))
    return CommandContext(ClientState(id=1, addr="a"), node, config)


def tagged(tag: bytes, n: int) -> list[bytes]:
    """[key, value]: key `n` in the slot of `tag`."""
    return [b"{%s}%d" % (tag, n), b"%d" % n]


def moved(key: bytes) -> ErrorReply:
    return ErrorReply(f"MOVED {key_slot(key)} 127.0.0.1:7002")


async def test_moved_mode_redirects_keys_led_elsewhere_and_readonly_reads_here() -> None:
    node = TwoGroups()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    node.high.data[b] = b"there"
    ctx = moved_ctx(node)
    replies = await run(
        ctx, [b"SET", a, b"1"], [b"SET", b, b"2"], [b"GET", b], [b"READONLY"], [b"GET", b],
        [b"INCR", b], [b"READWRITE"], [b"GET", b], [b"PING"],
    )  # fmt: skip
    assert replies == [
        SimpleString("OK"), moved(b), moved(b), SimpleString("OK"), b"there", moved(b),
        SimpleString("OK"), moved(b), SimpleString("PONG"),
    ]  # fmt: skip
    assert node.low.data == {a: b"1"} and node.high.data == {b: b"there"}
    assert node.high.forwarded == []  # redirected, never forwarded


async def test_moved_mode_needs_one_slot_and_splits_nothing() -> None:
    node = TwoGroups()
    low, (b,) = keys_in(1, 2), keys_in(2, 1)
    assert key_slot(low[0]) != key_slot(low[1])
    ctx = moved_ctx(node)
    (t1, v1), (t2, v2) = tagged(low[0], 1), tagged(low[0], 2)
    replies = await run(
        ctx, [b"MSET", low[0], b"1", low[1], b"2"], [b"MGET", low[0], b],
        [b"DEL", low[0], low[1]], [b"SET", t1, v1], [b"SET", t2, v2], [b"EXISTS", t1, t2],
    )  # fmt: skip
    assert replies == [CROSSSLOT, CROSSSLOT, CROSSSLOT, SimpleString("OK"), SimpleString("OK"), 2]
    # Keyspace-wide commands cover the groups this node leads only.
    node.high.data[b] = b"there"
    dbsize, keys = await run(ctx, [b"DBSIZE"], [b"KEYS", b"*"])
    assert dbsize == 2 and isinstance(keys, list) and sorted(keys) == sorted([t1, t2])
    # A multi-slot command of one group in forward mode runs there.
    assert await run(ctx_for(node), [b"EXISTS", low[0], low[1], t1]) == [1]


async def test_moved_mode_inside_multi_flags_the_transaction() -> None:
    node = TwoGroups()
    (a,), (b,) = keys_in(1, 1), keys_in(2, 1)
    ctx = moved_ctx(node)
    replies = await run(
        ctx, [b"MULTI"], [b"SET", a, b"1"], [b"SET", b, b"2"], [b"EXEC"],
    )  # fmt: skip
    assert replies[:4] == [
        SimpleString("OK"), SimpleString("QUEUED"), moved(b),
        ErrorReply("EXECABORT Transaction discarded because of previous errors."),
    ]  # fmt: skip
    other = next(k for k in keys_in(1, 10) if key_slot(k) != key_slot(a))
    replies = await run(ctx, [b"MULTI"], [b"SET", a, b"1"], [b"SET", other, b"2"], [b"EXEC"])
    assert replies == [
        SimpleString("OK"),
        SimpleString("QUEUED"),
        SimpleString("QUEUED"),
        CROSSSLOT,
    ]
    assert node.low.data == {} and node.high.data == {}


def test_routing_takes_the_keys_the_keys_procedure_names() -> None:
    # Routing reads a command's keys from the table's positions unless they move with the
    # arguments; where a keys procedure exists anyway (SET's tells only how a key is used)
    # both must name the same keys.
    words = [b"k", b"get", b"ex", b"1", b"2", b"nx"]
    procs = [spec for spec in COMMANDS.values() if spec.keys_proc is not None]
    assert {"set", "zunionstore", "object", "eval"} <= {spec.name for spec in procs}
    for spec in procs:
        assert spec.keys_proc is not None
        for count in range(1, 6):
            for args in itertools.product(words, repeat=count):
                argv = [spec.name.encode(), *args]
                if not spec.arity_ok(len(argv)):
                    continue
                try:
                    by_proc = [argv[pos] for pos, _ in spec.keys_proc(argv)]
                except (ValueError, IndexError):
                    continue  # not a valid call: its arguments are refused before routing
                assert list(command_keys(spec, argv)) == by_proc, (spec.name, argv)

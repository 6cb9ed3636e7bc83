"""The command layer against an in-memory backend: wording, limits, pipelined ordering."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import trio
from tests.commands.replicas import OneDataGroup

from seshat_trio.acl.rules import DEFAULT_USER
from seshat_trio.acl.users import UserDirectory
from seshat_trio.commands.behind_writes import NOT_CONFIRMED
from seshat_trio.commands.context import ClientState, CommandContext
from seshat_trio.commands.dispatch import execute
from seshat_trio.commands.permissions import catalog
from seshat_trio.commands.table import COMMANDS
from seshat_trio.config import Config, LimitsSection, NodeSection
from seshat_trio.errors import (
    LeaderIsLocalError,
    NotLeaderError,
    OutcomeUnknownError,
    ServiceError,
)
from seshat_trio.kv.operations import Operation
from seshat_trio.protocol import (
    ErrorReply,
    RawReplies,
    Reply,
    SimpleString,
    Verbatim,
    encode_replies,
)
from seshat_trio.replication.pending import PendingReply, WriteDeadlines
from seshat_trio.reply_budget import (
    FORWARD_REPLY_BUDGET,
    SMALL_REPLY_BYTES,
    TYPICAL_VALUE_BYTES,
)
from seshat_trio.scripting.node import NodeScripting
from seshat_trio.storage import StoredValue, position


class FakeBackend(OneDataGroup):
    """Applies operations to a dict when `release` is called, recording every event."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.events: list[str] = []
        self.queued: list[tuple[Operation, trio.Event, list[tuple[Reply, ...]]]] = []
        self.fail_next = False
        self.leading = True
        # What leader_is_local answers after a refused submit (a leader was found).
        self.leader_found_locally = False
        # Another node is known to lead (the follower's fast path straight to forwarding).
        self.remote_leader_known = False
        self.forwarded: list[list[list[bytes]]] = []
        self.users = UserDirectory(catalog(), {DEFAULT_USER.name: DEFAULT_USER})
        self.scripting = NodeScripting()

    async def leader_is_local(self) -> bool:
        self.events.append("wait leader")
        if self.leader_found_locally:
            self.leading = True
        return self.leader_found_locally

    async def forward(
        self, commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        run = [list(c) for c in commands]
        self.forwarded.append(run)
        self.events.append(f"forward {len(run)}")
        return b"".join(b"+FWD %s\r\n" % c[1] for c in run)

    def submit(self, op: Operation):  # type: ignore[no-untyped-def]
        if not self.leading:
            raise NotLeaderError(2)
        self.events.append(f"submit {op.commands[0][0].decode()}")
        done, box = trio.Event(), list[tuple[Reply, ...]]()
        self.queued.append((op, done, box))
        fail = self.fail_next
        self.fail_next = False

        async def wait() -> tuple[Reply, ...]:
            await done.wait()
            if fail:
                raise OutcomeUnknownError("TIMEOUT outcome unknown")
            return box[0]

        return wait()

    def release(self) -> None:
        for op, done, box in self.queued:
            name, *args = op.commands[0]
            if name == b"set":
                self.data[args[0]] = args[1]
                box.append((SimpleString("OK"),))
            elif name == b"get":  # reads behind writes, answered at their place in the log
                box.append((self.data.get(args[0]),))
            elif name == b"exists":
                box.append((sum(k in self.data for k in args),))
            else:
                box.append((sum(1 for k in args if self.data.pop(k, None) is not None),))
            self.events.append(f"apply {name.decode()}")
            done.set()
        self.queued.clear()

    def is_leader(self) -> bool:
        return self.leading

    def leader_is_remote(self) -> bool:
        return self.remote_leader_known

    def leader_address(self, tls: bool = False) -> str | None:
        return "127.0.0.1:7002" if self.remote_leader_known else "127.0.0.1:7001"

    def propose_nowait(self, op: Operation) -> None:
        self.events.append("propose_nowait")

    def items(self, start: int = 0) -> Iterator[tuple[bytes, StoredValue]]:
        ordered = sorted((position(k), k) for k in self.data)
        for _, key in (item for item in ordered if item[0] >= start):
            yield key, StoredValue(kind=0, data=self.data[key], expires_at_ms=0)

    def due_expiries(self, now_ms: int, limit: int) -> list[bytes]:
        return []

    def save(self) -> None:
        self.events.append("save")

    def last_save(self) -> int:
        return 1_700_000_000

    async def read_barrier(self) -> None:
        self.events.append("barrier")

    async def system_read_barrier(self) -> None:
        self.events.append("system barrier")

    def get(self, key: bytes) -> StoredValue | None:
        value = self.data.get(key)
        return None if value is None else StoredValue(kind=0, data=value, expires_at_ms=0)

    def key_count(self) -> int:
        return len(self.data)

    def now_ms(self) -> int:
        return 1_700_000_000_000

    def info_sections(self) -> dict[str, list[tuple[str, str]]]:
        return {"server": [("redis_version", "7.0.0")], "cluster": [("cluster_enabled", "0")]}


def make_ctx(backend: FakeBackend | None = None) -> CommandContext:
    return CommandContext(
        ClientState(id=7, addr="127.0.0.1:5555"),
        backend or FakeBackend(),
        Config(node=NodeSection(id=1)),
    )


async def run(ctx: CommandContext, *commands: list[bytes]) -> list[Reply]:
    backend = ctx.backend
    assert isinstance(backend, FakeBackend)
    async with trio.open_nursery() as nursery:
        result: list[list[Reply]] = []

        async def go() -> None:
            result.append(await execute(ctx, list(commands)))

        nursery.start_soon(go)
        # Let every submission happen first, then apply them: proves they were batched.
        await trio.testing.wait_all_tasks_blocked()
        backend.release()
        await trio.testing.wait_all_tasks_blocked()
        backend.release()
    return result[0]


async def test_unknown_command_uses_redis_wording() -> None:
    (reply,) = await run(make_ctx(), [b"FOO", b"a", b"b"])
    assert reply == ErrorReply("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")


async def test_wrong_arity_names_the_command() -> None:
    replies = await run(make_ctx(), [b"GET"], [b"get", b"a", b"b"], [b"SET", b"k"])
    assert replies == [ErrorReply("ERR wrong number of arguments for 'get' command")] * 2 + [
        ErrorReply("ERR wrong number of arguments for 'set' command")
    ]


async def test_key_and_value_limits_are_inclusive() -> None:
    ok_key, big_key = b"k" * 256, b"k" * 257
    ok_val, big_val = b"v" * 4194304, b"v" * 4194305
    replies = await run(
        make_ctx(),
        [b"SET", ok_key, ok_val],
        [b"SET", big_key, b"v"],
        [b"SET", b"k", big_val],
        [b"GET", big_key],
        [b"GET", ok_key],
    )
    assert replies == [
        SimpleString("OK"),
        ErrorReply("ERR key too large (max 256 bytes)"),
        ErrorReply("ERR value too large (max 4194304 bytes)"),
        ErrorReply("ERR key too large (max 256 bytes)"),
        ok_val,
    ]


async def test_pipelined_writes_are_submitted_together_and_reads_behind_them_join_them() -> None:
    backend = FakeBackend()
    replies = await run(
        make_ctx(backend),
        [b"SET", b"a", b"1"],
        [b"SET", b"b", b"2"],
        [b"GET", b"a"],
        [b"PING"],
        [b"DEL", b"a", b"b", b"c"],
        [b"EXISTS", b"a", b"b"],
    )
    assert replies == [SimpleString("OK"), SimpleString("OK"), b"1", SimpleString("PONG"), 2, 0]
    # Everything went to the log back to back, reads in their places (no read barrier):
    # each read saw the writes before it and none after it.
    assert backend.events == [
        "submit set", "submit set", "submit get", "submit del", "submit exists",
        "apply set", "apply set", "apply get", "apply del", "apply exists",
    ]  # fmt: skip


async def test_a_read_behind_writes_that_does_not_commit_asks_for_a_retry() -> None:
    backend = FakeBackend()
    submit = backend.submit

    def reads_fail(op: Operation):  # type: ignore[no-untyped-def]
        backend.fail_next = op.commands[0][0] == b"get"  # its entry's outcome is unknown
        return submit(op)

    backend.submit = reads_fail  # type: ignore[method-assign]
    replies = await run(make_ctx(backend), [b"SET", b"a", b"1"], [b"GET", b"a"])
    assert replies == [SimpleString("OK"), NOT_CONFIRMED]


async def test_scans_behind_writes_still_wait_for_them_and_a_barrier() -> None:
    backend = FakeBackend()
    replies = await run(make_ctx(backend), [b"SET", b"a", b"1"], [b"KEYS", b"*"])
    assert replies == [SimpleString("OK"), [b"a"]]
    assert backend.events == ["submit set", "apply set", "barrier"]


async def test_unknown_outcome_is_reported_not_hidden() -> None:
    backend = FakeBackend()
    backend.fail_next = True
    replies = await run(make_ctx(backend), [b"SET", b"a", b"1"], [b"SET", b"b", b"2"])
    assert replies == [ErrorReply("TIMEOUT outcome unknown"), SimpleString("OK")]


async def test_writes_of_one_read_share_one_deadline_and_late_ones_are_unknown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Submitted writes that are not confirmed by the request deadline are answered as
    unknown outcomes (never as failures), all at that one deadline."""
    backend = FakeBackend()
    config = Config(node=NodeSection(id=1), limits=LimitsSection(request_timeout_ms=2_000))
    ctx = CommandContext(ClientState(id=7, addr="127.0.0.1:5555"), backend, config)
    started = trio.current_time()
    replies = await execute(ctx, [[b"SET", b"a", b"1"], [b"SET", b"b", b"2"]])
    late = ErrorReply(
        "TIMEOUT the request was not confirmed within 2 s; a write in it may or may not "
        "have been applied"
    )
    assert replies == [late, late]
    assert trio.current_time() - started == pytest.approx(2.0)
    assert backend.events == ["submit set", "submit set"]


async def test_set_with_unsupported_option_is_a_syntax_error() -> None:
    (reply,) = await run(make_ctx(), [b"SET", b"k", b"v", b"BOGUS"])
    assert reply == ErrorReply("ERR syntax error")


async def test_connection_commands() -> None:
    ctx = make_ctx()
    replies = await run(
        ctx,
        [b"PING"],
        [b"PING", b"hi"],
        [b"ECHO", b"x"],
        [b"SELECT", b"0"],
        [b"SELECT", b"1"],
        [b"CLIENT", b"SETNAME", b"me"],
        [b"CLIENT", b"GETNAME"],
        [b"CLIENT", b"ID"],
        [b"CLIENT", b"SETNAME", b"has space"],
    )
    assert replies[:8] == [
        SimpleString("PONG"),
        b"hi",
        b"x",
        SimpleString("OK"),
        ErrorReply("ERR DB index is out of range"),
        SimpleString("OK"),
        b"me",
        7,
    ]
    assert isinstance(replies[8], ErrorReply) and "cannot contain spaces" in str(replies[8])


async def test_hello_switches_protocol_and_rejects_unknown_versions() -> None:
    ctx = make_ctx()
    (reply, bad) = await run(ctx, [b"HELLO", b"3"], [b"HELLO", b"4"])
    assert isinstance(reply, dict) and reply["proto"] == 3 and reply["id"] == 7
    assert bad == ErrorReply("NOPROTO unsupported protocol version")
    assert ctx.client.protocol == 3


async def test_quit_stops_the_pipeline() -> None:
    ctx = make_ctx()
    replies = await run(ctx, [b"QUIT"], [b"SET", b"a", b"1"])
    assert replies == [SimpleString("OK")]
    assert ctx.client.closing


async def test_command_count_info_and_docs_cover_every_command() -> None:
    ctx = make_ctx()
    count, info, docs = await run(
        ctx,
        [b"COMMAND", b"COUNT"],
        [b"COMMAND", b"INFO", b"get", b"nosuch"],
        [b"COMMAND", b"DOCS", b"set"],
    )
    assert count == len(COMMANDS) >= 14
    assert isinstance(info, list) and info[1] is None
    get_info = info[0]
    assert isinstance(get_info, list) and get_info[:2] == [b"get", 2] and get_info[3:6] == [1, 1, 1]
    assert isinstance(docs, dict) and docs["set"]["group"] == "string"


async def test_config_get_answers_what_redis_benchmark_asks() -> None:
    (reply,) = await run(make_ctx(), [b"CONFIG", b"GET", b"save"])
    assert reply == {"save": ""}
    (reply,) = await run(make_ctx(), [b"CONFIG", b"GET", b"append*"])
    assert isinstance(reply, dict) and reply["appendonly"] == "yes"


async def test_info_formats_sections() -> None:
    (reply,) = await run(make_ctx(), [b"INFO"])
    assert isinstance(reply, Verbatim) and reply.format == "txt"
    assert isinstance(reply.text, str)
    assert "# Server\r\nredis_version:7.0.0\r\n" in reply.text
    assert "# Cluster\r\ncluster_enabled:0\r\n" in reply.text


@pytest.mark.parametrize("leader_known", [False, True], ids=["leader-unknown", "leader-known"])
async def test_follower_forwards_each_run_of_writes_as_one_request_in_order(
    leader_known: bool,
) -> None:
    backend = FakeBackend()
    backend.leading = False
    backend.remote_leader_known = leader_known
    backend.data[b"r"] = b"local"
    replies = await run(
        make_ctx(backend),
        [b"SET", b"a", b"1"],
        [b"DEL", b"b"],
        [b"GET", b"r"],
        [b"NOPE"],
        [b"SET", b"c", b"3"],
        [b"GET", b"k" * 300],
        [b"SET", b"d", b"4"],
    )
    # The read behind the first writes joins their run (the leader answers it in its place).
    assert backend.forwarded == [
        [[b"SET", b"a", b"1"], [b"DEL", b"b"], [b"GET", b"r"]],
        [[b"SET", b"c", b"3"]],
        [[b"SET", b"d", b"4"]],
    ]
    assert encode_replies(replies) == (
        b"+FWD a\r\n+FWD b\r\n+FWD r\r\n"
        b"-ERR unknown command 'NOPE', with args beginning with: \r\n"
        b"+FWD c\r\n-ERR key too large (max 256 bytes)\r\n+FWD d\r\n"
    )
    assert "barrier" not in backend.events
    # With the leader known elsewhere, writes go straight to the forward run: nothing is
    # built, proposed or waited for here.
    assert ("wait leader" in backend.events) is not leader_known


PER_RUN = FORWARD_REPLY_BUDGET // (TYPICAL_VALUE_BYTES + SMALL_REPLY_BYTES)


@pytest.mark.parametrize(
    ("command", "extra", "requests"),
    [
        (b"GETSET", [], [PER_RUN, PER_RUN, 300 - 2 * PER_RUN]),
        (b"SET", [b"GET"], [PER_RUN, PER_RUN, 300 - 2 * PER_RUN]),
        (b"SET", [], [300]),
    ],
    ids=["getset", "set-get", "set"],
)
async def test_a_follower_forwards_writes_within_the_reply_budget(
    command: bytes, extra: list[bytes], requests: list[int]
) -> None:
    # Writes that answer a stored value reserve what a value usually takes of the reply
    # budget, so a long pipeline of them goes as several requests, one after another;
    # writes that answer a status hardly count against it.
    backend = FakeBackend()
    backend.leading, backend.remote_leader_known = False, True
    ctx = make_ctx(backend)
    replies = await run(ctx, *([command, b"k%d" % i, b"v", *extra] for i in range(300)))
    assert [len(request) for request in backend.forwarded] == requests
    assert encode_replies(replies) == b"".join(b"+FWD k%d\r\n" % i for i in range(300))


async def test_local_writes_settle_before_a_run_is_forwarded_to_a_known_leader() -> None:
    backend = FakeBackend()
    submit = backend.submit

    def submit_then_lose_leadership(op: Operation):  # type: ignore[no-untyped-def]
        waiter = submit(op)
        backend.leading, backend.remote_leader_known = False, True
        return waiter

    backend.submit = submit_then_lose_leadership  # type: ignore[method-assign]
    # The error reply after the run makes it leave before the end of the read.
    replies = await run(
        make_ctx(backend), [b"SET", b"a", b"1"], [b"SET", b"b", b"2"], [b"SET", b"k" * 300, b"v"]
    )
    assert replies[:2] == [SimpleString("OK"), RawReplies(b"+FWD b\r\n", 1)]
    assert backend.events == ["submit set", "apply set", "forward 1"]


async def test_a_run_the_old_leader_did_not_run_is_proposed_here_once_leadership_came() -> None:
    backend = FakeBackend()
    backend.leading, backend.remote_leader_known = False, True

    async def forward_while_leadership_moves_here(
        commands: Sequence[Sequence[bytes]], protocol: int, *, alone: bool = False
    ) -> bytes:
        backend.events.append(f"forward {len(commands)}")
        backend.leading, backend.remote_leader_known = True, False
        raise LeaderIsLocalError

    backend.forward = forward_while_leadership_moves_here  # type: ignore[method-assign]
    replies = await run(make_ctx(backend), [b"SET", b"a", b"1"], [b"SET", b"b", b"2"])
    assert replies == [RawReplies(b"+OK\r\n+OK\r\n", 2)]
    assert backend.events == ["forward 2", "submit set", "submit set", "apply set", "apply set"]
    assert backend.data == {b"a": b"1", b"b": b"2"}


async def test_a_forwarded_request_is_never_forwarded_again() -> None:
    backend = FakeBackend()
    backend.leading = False
    ctx = make_ctx(backend)
    ctx.client.forwarded = True
    (reply,) = await run(ctx, [b"SET", b"a", b"1"])
    assert isinstance(reply, ErrorReply) and reply.text.startswith("TRYAGAIN")
    assert backend.forwarded == []


async def test_write_is_proposed_locally_when_leadership_settles_here() -> None:
    backend = FakeBackend()
    backend.leading = False
    backend.leader_found_locally = True
    (reply,) = await run(make_ctx(backend), [b"SET", b"a", b"1"])
    assert reply == SimpleString("OK")
    assert backend.forwarded == [] and backend.data == {b"a": b"1"}


async def test_forward_failure_fails_every_command_of_the_run() -> None:
    backend = FakeBackend()
    backend.leading = False

    async def broken(commands: Sequence[Sequence[bytes]], protocol: int) -> bytes:
        raise OutcomeUnknownError("TIMEOUT unknown")

    backend.forward = broken  # type: ignore[method-assign]
    (reply,) = await run(make_ctx(backend), [b"SET", b"a", b"1"], [b"SET", b"b", b"2"])
    assert reply == RawReplies(b"-TIMEOUT unknown\r\n" * 2, 2)


async def test_a_write_refused_outright_is_answered_not_raised() -> None:
    backend = FakeBackend()

    def refuse(op: Operation):  # type: ignore[no-untyped-def]
        raise ServiceError("TRYAGAIN a leadership transfer is in progress; retry")

    backend.submit = refuse  # type: ignore[method-assign]
    replies = await run(make_ctx(backend), [b"SET", b"a", b"1"], [b"PING"])
    assert replies == [
        ErrorReply("TRYAGAIN a leadership transfer is in progress; retry"),
        SimpleString("PONG"),
    ]


async def test_reads_of_one_client_read_share_one_barrier_until_a_write() -> None:
    backend = FakeBackend()
    ctx = make_ctx(backend)
    await run(ctx, [b"GET", b"a"], [b"EXISTS", b"a"], [b"GET", b"b"])
    assert backend.events.count("barrier") == 1
    backend.events.clear()
    # Reads behind the write ride the log with it; a scan after it needs a barrier of its own.
    await run(ctx, [b"GET", b"a"], [b"SET", b"a", b"1"], [b"GET", b"a"], [b"KEYS", b"*"])
    assert backend.events.count("barrier") == 2
    # The next client read is a new set of invocations: it needs its own barrier.
    backend.events.clear()
    await run(ctx, [b"GET", b"a"])
    assert backend.events.count("barrier") == 1


class TickedBackend(FakeBackend):
    """Submits return the driver's kind of reply, never resolved here; `ticks` expires them
    as a driver's ticks do."""

    def __init__(self) -> None:
        super().__init__()
        self.deadlines = WriteDeadlines()

    def submit(self, op: Operation) -> PendingReply:  # type: ignore[override]
        self.events.append(f"submit {op.commands[0][0].decode()}")
        return PendingReply(self.deadlines)

    async def ticks(self, every_s: float) -> None:
        while True:
            await trio.sleep(every_s)
            self.deadlines.expire(trio.current_time())


async def test_writes_the_driver_keeps_deadlines_for_are_late_at_its_tick_after_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The driver's replies carry the read's deadline (no cancel scope): its ticks answer
    them with the same late error, within a tick of the deadline."""
    backend = TickedBackend()
    config = Config(node=NodeSection(id=1), limits=LimitsSection(request_timeout_ms=2_000))
    ctx = CommandContext(ClientState(id=7, addr="127.0.0.1:5555"), backend, config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(backend.ticks, 0.3)
        started = trio.current_time()
        with trio.fail_after(10):
            replies = await execute(ctx, [[b"SET", b"a", b"1"], [b"SET", b"b", b"2"]])
        waited = trio.current_time() - started
        nursery.cancel_scope.cancel()
    late = ErrorReply(
        "TIMEOUT the request was not confirmed within 2 s; a write in it may or may not "
        "have been applied"
    )
    assert replies == [late, late]
    assert 2.0 <= waited <= 2.3 + 1e-9
    assert backend.events == ["submit set", "submit set"]
    assert len(backend.deadlines) == 0

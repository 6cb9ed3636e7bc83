"""Run the commands of one client read, in order, batching pipelined writes.

A pipeline of writes is submitted to the backend back to back, so they share one
replication round, and their replies are awaited afterwards. A data read behind them joins
them (commands/behind_writes.py): proposed as a read-only operation, it is answered from the
state at its log position. Anything else that reads (or otherwise depends on earlier
commands) first waits for the writes before it, which keeps per-connection ordering exactly
as if each command ran alone.

Each command runs in the data group its keys route to (commands/routing.py). On a follower
of that group, writes are refused locally (`NotLeaderError`); a run of consecutive refused
writes to one group is forwarded to its leader as ONE request, whose encoded replies are
spliced back in place. Local and forwarded work never overlap: each waits for the other
before it starts, so ordering holds across the two paths too. A request that was itself
forwarded is never forwarded again (leadership moved while it travelled): its writes fail
with TRYAGAIN.

Inside MULTI every command but the transaction controls is queued, not executed; EXEC is
then one write (commands/transactions.py). A blocking command (BLPOP, ...) of a client of
this node waits here and pops through writes (seshat_trio.blocking).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any

import trio

from seshat_trio import errors
from seshat_trio.blocking.client import block
from seshat_trio.commands import (  # noqa: F401  (registration)
    acl,
    behind_writes,
    clients,
    cluster,
    connection,
    fanout,
    introspection,
    keys,
    server,
    transactions,
)
from seshat_trio.commands.context import CommandContext, GroupBackend
from seshat_trio.commands.data import NO_GROUP
from seshat_trio.commands.permissions import admission_error, exec_refusal
from seshat_trio.commands.redirect import moved_mode, redirection
from seshat_trio.commands.routing import (
    CROSSSLOT,
    MAP_UNKNOWN,
    MapUnknown,
    command_keys,
    route_keys,
    transaction_keys,
)
from seshat_trio.commands.table import CommandSpec, lookup, unknown_command, wrong_arity
from seshat_trio.config.model import FORWARD_REQUEST_BUDGET
from seshat_trio.errors import (
    LeaderIsLocalError,
    NotLeaderError,
    OutcomeUnknownError,
    ServiceError,
)
from seshat_trio.kv.blocking import BLOCKING
from seshat_trio.kv.operations import MAX_COMMAND_ARGS, command_bytes
from seshat_trio.membership import commands as membership_commands  # noqa: F401  (registration)
from seshat_trio.memory_gauge import USED_MEMORY
from seshat_trio.protocol import ErrorReply, RawReplies, Reply, encode_replies
from seshat_trio.pubsub import commands as pubsub_commands  # noqa: F401  (registration)
from seshat_trio.pubsub.client import refusal as subscribed_mode_refusal
from seshat_trio.replication.pending import PendingReply
from seshat_trio.reply_budget import FORWARD_REPLY_BUDGET, reply_reserve
from seshat_trio.scripting import commands as scripting_commands  # noqa: F401  (registration)
from seshat_trio.scripting import function_commands  # noqa: F401  (registration)
from seshat_trio.scripting.node import allows_busy
from seshat_trio.slots import key_slot

# Tries to propose locally while leadership settles on this node before forwarding.
LOCAL_ATTEMPTS = 3
# The scope of a wait the driver's ticks bound already: one reusable (stateless) context.
_UNSCOPED = contextlib.nullcontext()
MOVED_WHILE_FORWARDED = ErrorReply(errors.MOVED_WHILE_FORWARDED)


WATCH_REMOTE = ErrorReply(
    "ERR WATCH of a key whose data group has no replica on this node is not supported: "
    "connect to a node that replicates it (CLUSTER SLOTS / SESHAT.MEMBER LIST)"
)
OOM = ErrorReply("OOM command not allowed when used memory > 'maxmemory'.")


def _limit_error(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> ErrorReply | None:
    limits = ctx.config.limits
    maxmemory = ctx.tunables.maxmemory
    # As Redis: over maxmemory (noeviction), commands that may grow the data are refused
    # here, before anything is proposed; reads, deletions and expirations still run.
    if maxmemory and "denyoom" in spec.flags and USED_MEMORY.used_bytes() > maxmemory:
        USED_MEMORY.refused += 1
        return OOM
    # No argument is longer than all of them together: a short command skips the loops.
    total = sum(map(len, argv))
    if spec.first_key > 0 and total > limits.max_key_bytes:
        last = len(argv) - 1 if spec.last_key < 0 else spec.last_key
        for pos in range(spec.first_key, last + 1, spec.step):
            if len(argv[pos]) > limits.max_key_bytes:
                return ErrorReply(f"ERR key too large (max {limits.max_key_bytes} bytes)")
    if spec.build is not None:  # a write (`is_write`, without a call on every command)
        # Values are every non-key argument of a write; options are short, so this also
        # bounds them without per-command knowledge.
        if total > limits.max_value_bytes:
            for arg in argv[1:]:
                if len(arg) > limits.max_value_bytes:
                    return ErrorReply(f"ERR value too large (max {limits.max_value_bytes} bytes)")
        # The whole write becomes (part of) one log entry, which must stay decodable and
        # fit a node-to-node frame: many values at the limit may not.
        if len(argv) > MAX_COMMAND_ARGS:
            return ErrorReply(
                f"ERR too many arguments for a write ({len(argv)}; max {MAX_COMMAND_ARGS})"
            )
        size = command_bytes(len(argv), total)
        if size > limits.max_write_bytes:
            return ErrorReply(
                f"ERR write too large ({size} bytes; max {limits.max_write_bytes} bytes): "
                "split it into several commands"
            )
    return None


def _refusal(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> ErrorReply | None:
    """Why `argv` may not run: its subcommand, authentication or permissions (checked
    only for containers and restricted clients), then the size limits."""
    if spec.subcommands or ctx.client.auth.restricted:
        error = admission_error(ctx, spec, argv)
        if error is not None:
            return error
    return _limit_error(ctx, spec, argv)


def _forwarded_bytes(argv: list[bytes]) -> int:
    """An upper bound on the bytes `argv` takes in a ForwardRequest frame: each argument is
    a Cap'n Proto Data element (an 8-byte pointer and its bytes padded to a word), and the
    command a list of them (a pointer and a tag)."""
    return 16 + 16 * len(argv) + sum(map(len, argv))


class _Pipeline:
    """The replies of one read, with writes still in flight locally or to the leader."""

    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx
        self.replies: list[Reply] = []
        self._submitted: list[tuple[int, Awaitable[tuple[Reply, ...]]]] = []
        self._forward_group: GroupBackend | None = None
        self._forward_slot = -1
        self._forward_run: list[list[bytes]] = []
        self._forward_bytes = 0
        self._forward_replies = 0  # reply bytes the run's commands may bring back
        self._read_slots: set[int] = set()  # replies of reads proposed behind writes
        # A forwarded request answered "moved" for one command answers it for the rest, so
        # the sender sends them all again, in order, elsewhere (reads included).
        self.sent_back = False

    async def add(self, reply: Reply) -> None:
        # An open forward run holds the replies of the writes before this one: close it.
        if self._forward_run:
            await self._settle_forwarded()
        self.replies.append(reply)

    async def write(self, argv: list[bytes], spec: CommandSpec, group: GroupBackend) -> None:
        self.ctx.fresh_barriers.clear()  # reads after this write need a barrier of their own
        # Only writes that join a forwarded run are sized: a leader's never are.
        size = replies = 0
        if self._forward_run:
            size = _forwarded_bytes(argv)
            replies = reply_reserve(spec.name, argv, self.ctx.config.limits.max_value_bytes)
        if self._forward_run and (
            group is not self._forward_group
            or self._forward_replies + replies > FORWARD_REPLY_BUDGET
            or self._forward_bytes + size > FORWARD_REQUEST_BUDGET
        ):
            # A full run (or one to another group) goes now and this write starts the next,
            # after its reply: one request, and its replies (values, for some writes), stay
            # below the frame limit.
            await self._settle_forwarded()
        if not self._forward_run:
            if self.ctx.client.forwarded or not group.leader_is_remote():
                if await self._handled_here(argv, spec, group):
                    return
            else:
                # A follower's common case: building and proposing would only be refused.
                await self._settle_submitted()
            self._forward_group = group
            self._forward_slot = len(self.replies)
            self.replies.append(None)
            size = _forwarded_bytes(argv)
            replies = reply_reserve(spec.name, argv, self.ctx.config.limits.max_value_bytes)
        form = spec.caller_form
        self._forward_run.append(argv if form is None else form(self.ctx, argv))
        self._forward_bytes += size
        self._forward_replies += replies

    async def forward(self, argv: list[bytes], spec: CommandSpec, group: GroupBackend) -> None:
        """Send `argv` (a read or a write) to `group`, which is not replicated here: it joins
        the run being forwarded there, in order with this client's other commands."""
        if self._forward_run and (
            group is not self._forward_group
            or self._forward_replies + reply_reserve(spec.name, argv, self._value_limit)
            > FORWARD_REPLY_BUDGET
            or self._forward_bytes + _forwarded_bytes(argv) > FORWARD_REQUEST_BUDGET
        ):
            await self._settle_forwarded()
        if not self._forward_run:
            await self._settle_submitted()
            self._forward_group = group
            self._forward_slot = len(self.replies)
            self.replies.append(None)
        form = spec.caller_form
        self._forward_run.append(argv if form is None else form(self.ctx, argv))
        self._forward_bytes += _forwarded_bytes(argv)
        self._forward_replies += reply_reserve(spec.name, argv, self._value_limit)

    @property
    def _value_limit(self) -> int:
        return self.ctx.config.limits.max_value_bytes

    async def read_behind_writes(
        self, argv: list[bytes], spec: CommandSpec, group: GroupBackend | None
    ) -> bool:
        """Join the writes of this client read still in flight, if `spec` may (see
        behind_writes); False: run it alone, after them. A data read joins in its own
        group (`group`): its place in that group's log orders it after this client's
        earlier writes there, and writes to other groups touch none of its keys."""
        if self._forward_run:
            size = _forwarded_bytes(argv)
            replies = reply_reserve(spec.name, argv, self.ctx.config.limits.max_value_bytes)
            if (
                not behind_writes.joins_forwarded_run(spec)
                or (group is not None and group is not self._forward_group)
                or self._forward_replies + replies > FORWARD_REPLY_BUDGET
                or self._forward_bytes + size > FORWARD_REQUEST_BUDGET
            ):
                return False
            self._forward_run.append(argv)
            self._forward_bytes += size
            self._forward_replies += replies
            return True
        if not self._submitted:
            return False
        if spec.name in behind_writes.ORDER_FREE:
            assert spec.run is not None
            self.replies.append(await spec.run(self.ctx, argv))
            return True
        if group is None or not behind_writes.rides_in_log(spec):
            return False
        built = behind_writes.read_operation(self.ctx, argv)
        if isinstance(built, ErrorReply):
            self.replies.append(built)
            return True
        try:
            submitted = group.submit(built)
        except ServiceError:  # not leading any more (NotLeaderError), or handing over
            return False
        self._read_slots.add(len(self.replies))
        self._submitted.append((len(self.replies), submitted))
        self.replies.append(None)
        return True

    async def _handled_here(
        self, argv: list[bytes], spec: CommandSpec, group: GroupBackend
    ) -> bool:
        """Propose the write (or answer its error) here; False when it must be forwarded."""
        assert spec.build is not None
        built = spec.build(self.ctx, argv)
        if isinstance(built, ErrorReply):
            self.replies.append(built)
            return True
        for _ in range(LOCAL_ATTEMPTS):
            try:
                submitted = group.submit(built)
            except NotLeaderError:
                # A forwarded write stays here if leadership does (a transfer given up).
                if self.ctx.client.forwarded and not await self._still_local(group):
                    self.sent_back = True
                    self.replies.append(MOVED_WHILE_FORWARDED)
                    return True
            except ServiceError as exc:  # refused outright (the driver stopped)
                self.replies.append(ErrorReply(exc.message))
                return True
            else:
                self._submitted.append((len(self.replies), submitted))
                self.replies.append(None)
                return True
            # Not proposed: wait for a leader (earlier writes first, to keep order);
            # if it turns out to be this node, propose here after all.
            await self._settle_submitted()
            try:
                local = await group.leader_is_local()
            except ServiceError as exc:
                self.replies.append(ErrorReply(exc.message))
                return True
            if not local:
                break
        if self.ctx.client.forwarded:  # never forwarded twice
            self.sent_back = True
            self.replies.append(MOVED_WHILE_FORWARDED)
            return True
        return False

    async def _still_local(self, group: GroupBackend) -> bool:
        try:
            return await group.leader_is_local()
        except ServiceError:
            return False

    async def settle(self) -> None:
        # Checked here, not awaited: a read alone (most of them) settles nothing.
        if self._submitted:
            await self._settle_submitted()
        if self._forward_run:
            await self._settle_forwarded()

    async def _settle_submitted(self) -> None:
        if not self._submitted:
            return
        submitted, self._submitted = self._submitted, []
        # One deadline for the writes of this read. The driver keeps it on its own replies
        # (replication/pending.py), which answer `late` at its first tick after it: a cancel
        # scope costs ~5 us per client read (docs/performance.md, round 8).
        timeout_s = self.ctx.config.limits.request_timeout_s
        deadline = trio.current_time() + timeout_s
        late = functools.partial(OutcomeUnknownError.deadline_passed, timeout_s)
        kept = True
        for _, result in submitted:
            if not (isinstance(result, PendingReply) and result.expire_at(deadline, late)):
                kept = False
        settled = 0
        with _UNSCOPED if kept else trio.move_on_at(deadline):
            for index, result in submitted:
                try:
                    outcome = await result
                except ServiceError as exc:
                    self.replies[index] = (
                        behind_writes.NOT_CONFIRMED
                        if index in self._read_slots
                        else ErrorReply(exc.message)
                    )
                else:
                    self.replies[index] = outcome[0] if len(outcome) == 1 else list(outcome)
                settled += 1
        if settled < len(submitted):
            late_reply = ErrorReply(late().message)
            for index, result in submitted[settled:]:
                self.replies[index] = (
                    behind_writes.NOT_CONFIRMED if index in self._read_slots else late_reply
                )
                if isinstance(result, Coroutine):
                    result.close()  # never awaited now; closing it keeps that quiet

    async def _settle_forwarded(self) -> None:
        if not self._forward_run:
            return
        run, self._forward_run = self._forward_run, []
        self._forward_bytes = self._forward_replies = 0
        group = self._forward_group
        assert group is not None
        protocol = self.ctx.client.protocol
        try:
            payload = await group.forward(run, protocol)
        except LeaderIsLocalError as exc:
            # This node leads now and the old leader did not run the rest: it goes here.
            here = _Pipeline(self.ctx)
            for argv in run[exc.ran :]:
                spec = lookup(argv[0])
                assert spec is not None  # it was looked up to join the run
                await here.write(argv, spec, group)
            await here.settle()
            payload = exc.payload + encode_replies(here.replies, protocol)
        except ServiceError as exc:
            self.replies[self._forward_slot] = RawReplies.repeat(ErrorReply(exc.message), len(run))
            return
        self.replies[self._forward_slot] = RawReplies(payload, len(run))


def execute(ctx: CommandContext, commands: list[list[bytes]]) -> Coroutine[Any, Any, list[Reply]]:
    """Execute `commands` (one client read) and return their replies, in order.

    A forwarded run of writes comes back as one `RawReplies` entry. Stops after a command
    that closes the connection (QUIT). Under CLIENT REPLY OFF or SKIP (or a read that
    changes it) commands run one at a time and the silenced ones answer nothing (an empty
    `RawReplies`), pushes excepted, as in Redis.

    The executing coroutine itself, not one awaiting it: a frame less to resume at each of
    a request's waits (its read barrier, its write's reply).
    """
    client = ctx.client
    if not (client.reply_off or client.reply_skip) and not any(map(_sets_reply, commands)):
        return _execute(ctx, commands)
    return _execute_replying(ctx, commands)


async def _execute_replying(ctx: CommandContext, commands: list[list[bytes]]) -> list[Reply]:
    """`execute` one command at a time, as CLIENT REPLY OFF or SKIP may silence each."""
    client = ctx.client
    replies: list[Reply] = []
    for argv in commands:
        silent = clients.quiet(client)
        answered = await _execute(ctx, [argv])
        if _sets_reply(argv):
            silent = client.reply_off or client.reply_skip == clients.SKIP_NEXT
        replies += [_silenced(reply) for reply in answered] if silent else answered
        clients.after_command(client)
        if client.closing:
            break
    return replies


def _sets_reply(argv: list[bytes]) -> bool:
    return len(argv) == 3 and argv[0].lower() == b"client" and argv[1].lower() == b"reply"


def _silenced(reply: Reply) -> Reply:
    """A reply CLIENT REPLY silences: nothing, but still counted as one (pushes stay)."""
    if isinstance(reply, RawReplies):
        if reply.count == 0 or reply.data.startswith(b">"):
            return reply  # pub/sub messages and RESP3 confirmations are pushes
        return RawReplies(b"", reply.count)
    return RawReplies(b"", 1)


async def _execute(ctx: CommandContext, commands: list[list[bytes]]) -> list[Reply]:
    ctx.fresh_barriers.clear()  # a new client read: its commands were invoked just now
    pipeline = _Pipeline(ctx)
    client = ctx.client
    moved = moved_mode(ctx)
    if client.pubsub is not None:  # messages arriving meanwhile go among these replies
        client.pubsub.inline = pipeline.replies
    for argv in commands:
        if pipeline.sent_back:  # the rest of a forwarded request goes back too (see `sent_back`)
            await pipeline.add(MOVED_WHILE_FORWARDED)
            continue
        spec = lookup(argv[0])
        client.last_active = time.monotonic()
        client.last_command = spec.name if spec is not None else "NULL"
        if client.queued is not None and (spec is None or spec.name not in transactions.CONTROL):
            error = transactions.queue_error(spec, argv)
            queued = argv
            if error is None and spec is not None:
                error = _refusal(ctx, spec, argv)
                if error is None and moved:
                    error = await _queued_redirection(ctx, spec, argv)
                if spec.caller_form is not None:
                    queued = spec.caller_form(ctx, argv)
            await pipeline.add(transactions.queue(ctx, queued, error))
            continue
        if spec is not None and spec.name == "exec":
            if client.auth.restricted and (error := exec_refusal(ctx, spec, argv)):
                await pipeline.add(error)
            else:
                await _exec(pipeline, spec, argv)
            continue
        if spec is None:
            await pipeline.add(unknown_command(argv))
            continue
        if not spec.arity_ok(len(argv)):
            # As in Redis an arity error is a queueing error even for a transaction control
            # (DISCARD x, WATCH, MULTI x): the open transaction's EXEC answers EXECABORT.
            if client.queued is not None:
                client.queue_failed = True
            await pipeline.add(wrong_arity(spec.name))
            continue
        error = _refusal(ctx, spec, argv)
        if error is None and client.pubsub is not None and client.pubsub.subscribed:
            error = subscribed_mode_refusal(client, spec.name, spec.is_container, argv)
        if error is None and ctx.backend.scripting.running is not None and not client.forwarded:
            error = await _wait_for_script(pipeline, spec, argv)
        if error is not None:
            await pipeline.add(error)
            continue
        key_args = command_keys(spec, argv)
        routed = route_keys(ctx, key_args)
        if routed is MAP_UNKNOWN:
            routed = await _route_once_known(ctx, key_args)
        assert not isinstance(routed, MapUnknown)
        if (
            isinstance(routed, ErrorReply)
            or routed is None
            or routed.hosted
            or "pubsub" in spec.flags  # subscriptions and publishing are the node's
        ):
            pass
        elif client.forwarded or spec.name == "watch":
            # Not replicated here: a forwarded request goes back (its sender tries another
            # replica); WATCH needs the replica's state (docs/commands.md).
            pipeline.sent_back = client.forwarded
            await pipeline.add(MOVED_WHILE_FORWARDED if client.forwarded else WATCH_REMOTE)
            continue
        elif moved and (redirect := await redirection(ctx, spec, key_args, routed)) is not None:
            await pipeline.add(redirect)
            continue
        else:  # reads and writes alike run on a replica of the group (node/remote_group.py)
            await pipeline.forward(argv, spec, routed)
            continue
        if routed is CROSSSLOT and spec.name in fanout.SPLIT and not moved:
            await pipeline.settle()
            await pipeline.add(await _split(ctx, spec, argv))
        elif routed is None and spec.name in fanout.EVERY_GROUP:
            await pipeline.settle()
            await pipeline.add(await _every_group(ctx, spec, argv))
        elif isinstance(routed, ErrorReply):
            await pipeline.add(routed)
        elif (
            moved
            and routed is not None
            and (redirect := await redirection(ctx, spec, key_args, routed)) is not None
        ):
            await pipeline.add(redirect)
        elif spec.build is not None:
            if routed is None:
                await pipeline.add(NO_GROUP)
            elif spec.name in BLOCKING and not client.forwarded:
                await pipeline.settle()
                await pipeline.add(await _block(ctx, spec, argv, routed))
            else:
                await pipeline.write(argv, spec, routed)
        elif await pipeline.read_behind_writes(argv, spec, routed):
            continue
        else:
            assert spec.run is not None
            ctx.group = routed
            await pipeline.settle()
            try:
                reply = await spec.run(ctx, argv)
            except ServiceError as exc:
                reply = ErrorReply(exc.message)
            await pipeline.add(reply)
            if ctx.client.closing:
                break
    await pipeline.settle()
    if client.pubsub is not None:
        client.pubsub.inline = None
    return pipeline.replies


async def _wait_for_script(
    pipeline: _Pipeline, spec: CommandSpec, argv: list[bytes]
) -> ErrorReply | None:
    """A read-only script runs on this node: its clients wait for it, or get BUSY once it
    ran too long (scripting/node.py); `allow_busy` commands run at once. Requests other
    nodes forward are not held: a script here must not stop the cluster's writes."""
    if allows_busy(spec, argv):
        return None
    await pipeline.settle()
    return await pipeline.ctx.backend.scripting.wait_idle()


async def _route_once_known(
    ctx: CommandContext, key_args: Sequence[bytes]
) -> GroupBackend | ErrorReply | None:
    """Route `key_args` once the shard map is known (the first commands of a new cluster)."""
    try:
        await ctx.backend.wait_for_map()
    except ServiceError as exc:
        return ErrorReply(exc.message)
    routed = route_keys(ctx, key_args)
    assert not isinstance(routed, MapUnknown)  # known maps are never forgotten
    return routed


async def _queued_redirection(
    ctx: CommandContext, spec: CommandSpec, argv: list[bytes]
) -> ErrorReply | None:
    """In moved mode, a command queued in MULTI whose keys span slots or live in a group
    led elsewhere answers CROSSSLOT or MOVED now (commands/redirect.py)."""
    key_args = command_keys(spec, argv)
    if not key_args:
        return None
    routed = await _route(ctx, key_args)
    if isinstance(routed, ErrorReply):
        return routed
    return await redirection(ctx, spec, key_args, routed)


async def _route(ctx: CommandContext, key_args: Sequence[bytes]) -> GroupBackend | ErrorReply:
    routed = route_keys(ctx, key_args)
    if routed is MAP_UNKNOWN:
        routed = await _route_once_known(ctx, key_args)
    assert not isinstance(routed, MapUnknown)
    return NO_GROUP if routed is None else routed


async def _run_in(
    ctx: CommandContext, spec: CommandSpec, argv: list[bytes], group: GroupBackend
) -> Reply:
    """`argv` run in `group` alone, as a part of a fanned-out command (plain values)."""
    if spec.build is not None or not group.hosted:
        part = _Pipeline(ctx)
        if group.hosted:
            await part.write(argv, spec, group)
        else:
            await part.forward(argv, spec, group)
        await part.settle()
        return fanout.values(part.replies[0])
    assert spec.run is not None
    ctx.group = group
    try:
        return fanout.values(await spec.run(ctx, argv))
    except ServiceError as exc:
        return ErrorReply(exc.message)


async def _block(
    ctx: CommandContext, spec: CommandSpec, argv: list[bytes], group: GroupBackend
) -> Reply:
    """A blocking command: wait here, each attempt a write of its own (seshat_trio.blocking)."""
    assert spec.build is not None
    built = spec.build(ctx, argv)
    if isinstance(built, ErrorReply):
        return built

    async def attempt(command: list[bytes]) -> Reply:
        part = _Pipeline(ctx)
        await part.write(command, spec, group)
        await part.settle()
        return part.replies[0]

    return await block(ctx, BLOCKING[spec.name], argv, group, attempt)


async def _split(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> Reply:
    """MGET, EXISTS, TOUCH, DEL, UNLINK over keys of several groups (commands/fanout.py)."""
    backend = ctx.backend

    def group_of(key: bytes) -> GroupBackend:
        group = backend.group_for_slot(key_slot(key))
        assert group is not None  # routing found every key's group just before
        return group

    parts = fanout.split(argv, group_of)
    replies = [await _run_in(ctx, spec, part, group) for group, part, _ in parts]
    return fanout.merge_split(spec.name, replies, [positions for _, _, positions in parts])


async def _every_group(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> Reply:
    """KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHALL, FLUSHDB over every data group."""
    groups = ctx.backend.data_groups()
    if moved_mode(ctx):  # a Redis Cluster primary answers for its own slots
        groups = [group for group in groups if group.is_leader()]
        if not groups:
            return fanout.over_no_group(spec.name)
    if spec.name == "scan":
        parsed = fanout.parse_scan_cursor(argv[1], len(groups))
        if parsed is None:
            return fanout.INVALID_CURSOR
        position, cursor = parsed
        reply = await _run_in(ctx, spec, [argv[0], cursor, *argv[2:]], groups[position])
        if not isinstance(reply, list):
            return reply
        next_cursor, keys = reply
        assert isinstance(next_cursor, bytes)
        return [fanout.scan_cursor(position, next_cursor, len(groups)), keys]
    if spec.name == "randomkey":
        for position in fanout.random_order(len(groups)):
            reply = await _run_in(ctx, spec, argv, groups[position])
            if reply is not None:
                return reply
        return None
    return fanout.merge_every(spec.name, [await _run_in(ctx, spec, argv, g) for g in groups])


async def _exec(pipeline: _Pipeline, spec: CommandSpec, argv: list[bytes]) -> None:
    ctx = pipeline.ctx
    if len(argv) == 1:
        # The transaction runs in the one group its keys (watched ones too) live in.
        keys = transaction_keys(ctx.client.queued or (), ctx.client.watched)
        routed = await _route(ctx, keys)
        if moved_mode(ctx) and not isinstance(routed, ErrorReply):
            routed = await redirection(ctx, None, keys, routed) or routed
        taken = transactions.take_transaction(ctx)
        if isinstance(taken, ErrorReply):
            await pipeline.add(taken)
        elif isinstance(routed, ErrorReply):
            await pipeline.add(routed)
        else:
            await pipeline.write([argv[0], taken], spec, routed)
    elif len(argv) == 2 and ctx.client.forwarded:
        # A follower's transaction: it runs in the group the request was routed to.
        routed = await _route(ctx, ())
        if isinstance(routed, ErrorReply):
            await pipeline.add(routed)
        else:
            await pipeline.write(argv, spec, routed)
    else:
        # Redis aborts EXEC itself on an arity error: the transaction (if any) is discarded
        # and the error says why, inside MULTI or not.
        ctx.client.end_transaction()
        reason = wrong_arity(spec.name).text.removeprefix("ERR ")
        await pipeline.add(ErrorReply(f"EXECABORT Transaction discarded because of: {reason}"))

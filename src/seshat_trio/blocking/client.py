"""A client blocked in BLPOP & co.: wait on this node, pop on the leader.

`block` runs one blocking command for a client of this node (never for a forwarded request:
that is always one attempt). An attempt is the command's kv write (kv/blocking.py), run as
any write is: proposed here when this node leads the keys' group, forwarded to the leader
otherwise. While attempts answer nil, the client waits HERE, queued in the node's `Waiters`
(waiters.py), until its turn comes on a key that changed, its timeout passes, or the
connection closes. So:

- waiting holds nothing on the leader and no Raft entry: only an attempt is a log entry,
  and one is made only when this node's applied state shows one of the keys holding a
  value (of any type: a wrong one answers WRONGTYPE); a key that gains a value here wakes
  the waiter. A follower that has not yet applied a push the leader has makes its client
  wait until it has: it wakes then;
- the timeout is measured on this node, with its clock (Trio's), from when the command
  started; it only ends waiting: an attempt already made runs to its outcome, so an
  element it popped is never lost to a timeout;
- a leader change needs no wake: the waiter watches this node's applied state, which every
  leader's writes reach; an attempt under way meets the change as any write does
  (TRYAGAIN, or an unknown outcome: answered as is, never retried, which could pop twice);
- first blocked, first served on this node: see waiters.py. Across nodes, the leader's log
  orders the attempts;
- as in Redis 7.0, WRONGTYPE for a key it pops from is answered only when the command
  starts (its first attempt, on every key). Once blocked, a client waits only on its keys
  holding the type it pops (`Blocking.kind`, in this node's applied state): an attempt
  names those keys alone (`Blocking.retarget`), so a key that became a string is skipped
  and a later key that got elements serves it, as Redis serves it. An attempt that still
  meets another type (the leader is ahead of this node) keeps the client waiting, unless
  it is BLMOVE's destination: that WRONGTYPE is answered, as Redis answers it;
- CLIENT UNBLOCK (commands/clients.py, through `ClientState.blocked`) ends the wait as a
  timeout or with `-UNBLOCKED`; an attempt under way runs to its outcome first (a Raft
  entry cannot be taken back), so a client unblocked at that moment may get its element.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable, Sequence

import trio

from seshat_trio.blocking.waiters import Unblocked, Waiter, Waiters
from seshat_trio.commands.context import CommandContext, GroupBackend
from seshat_trio.errors import ServiceError
from seshat_trio.kv.blocking import Blocking, found_nothing
from seshat_trio.protocol import ErrorReply, RawReplies, Reply

# The encoded nil replies an attempt forwarded to the leader may come back as.
_NILS = frozenset({b"$-1\r\n", b"*-1\r\n", b"_\r\n"})


def nothing_popped(reply: Reply) -> bool:
    if isinstance(reply, RawReplies):
        return reply.count == 1 and reply.data in _NILS
    return found_nothing(reply)


def wrong_type(reply: Reply) -> bool:
    if isinstance(reply, RawReplies):
        return reply.data.startswith(b"-WRONGTYPE")
    return isinstance(reply, ErrorReply) and reply.text.startswith("WRONGTYPE")


def may_hold_data(group: GroupBackend, keys: Sequence[bytes]) -> bool:
    """Whether this node's applied state has a value at any of `keys` (expired or not: the
    leader judges that when the attempt applies)."""
    return any(group.get(key) is not None for key in keys)


def keys_of_kind(group: GroupBackend, keys: Sequence[bytes], kind: int) -> tuple[bytes, ...]:
    """Those of `keys` that hold a value of type `kind` in this node's applied state."""
    return tuple(
        key for key in keys if (value := group.get(key)) is not None and value.kind == kind
    )


UNBLOCKED = ErrorReply("UNBLOCKED client unblocked via CLIENT UNBLOCK")


async def block(
    ctx: CommandContext,
    blocking: Blocking,
    argv: list[bytes],
    group: GroupBackend,
    attempt: Callable[[list[bytes]], Awaitable[Reply]],
) -> Reply:
    """Run blocking command `argv` (arguments valid) for a client of this node; `attempt`
    runs a command line (the same command, on some of its keys) once as a write."""
    args = tuple(argv[1:])
    timeout = blocking.timeout(args)
    assert not isinstance(timeout, ErrorReply), "the caller checked the arguments"
    deadline = math.inf if timeout == 0 else trio.current_time() + timeout
    waiters: Waiters = ctx.backend.waiters
    waiter = Waiter(blocking.keys(args))
    waiters.add(waiter)
    ctx.client.blocked = waiter
    answered = False  # by an attempt: the key may hold more, the next waiter tries
    try:
        # The command itself, on every key: WRONGTYPE on any is its answer, as in Redis.
        if may_hold_data(group, waiter.keys):
            reply = await attempt(argv)
            if not nothing_popped(reply):
                answered = True
                return reply
        while waiter.unblocked is None:
            if not waiter.woken and not await _wait(ctx, waiter, deadline):
                break
            if waiter.unblocked is not None:
                break  # a turn it was given (woken) passes on as it leaves
            waiter.woken = False
            keys = keys_of_kind(group, waiter.keys, blocking.kind)
            if not keys:
                continue  # nothing here to pop: wait for the next change
            reply = await attempt([argv[0], *blocking.retarget(args, keys)])
            if nothing_popped(reply):
                continue
            if wrong_type(reply) and not await _destination_wrong(blocking, args, group):
                continue  # a key it pops from changed type on the leader: keep waiting
            answered = True
            return reply
        return UNBLOCKED if waiter.unblocked is Unblocked.ERROR else blocking.nil
    finally:
        ctx.client.blocked = None
        if answered:
            waiters.served(waiter)
        else:
            waiters.remove(waiter)


async def _destination_wrong(
    blocking: Blocking, args: tuple[bytes, ...], group: GroupBackend
) -> bool:
    """Whether an attempt's WRONGTYPE was its destination's (BLMOVE's), which a blocked
    client is answered: judged on this node's state once it has every committed write."""
    destination = blocking.destination(args)
    if destination is None:
        return False
    with contextlib.suppress(ServiceError):  # no barrier now: judged on the state at hand
        await group.read_barrier()
    value = group.get(destination)
    return value is not None and value.kind != blocking.kind


async def _wait(ctx: CommandContext, waiter: Waiter, deadline: float) -> bool:
    """Wait for a wake (or CLIENT UNBLOCK); False when the deadline passed or the client
    went away first."""
    woken = trio.Event()
    waiter.on_wake = woken.set
    closed = ctx.client.wait_closed
    try:
        with trio.move_on_at(deadline):
            if closed is None:
                await woken.wait()
            else:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_cancel_when_set, woken, nursery.cancel_scope)
                    await closed()
                    ctx.client.closing = True  # the client is gone: answer nobody
                    nursery.cancel_scope.cancel()
                    return False
    finally:
        waiter.on_wake = _ignore
    return waiter.woken


async def _cancel_when_set(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _ignore() -> None:
    return None

"""Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; BZPOPMIN & co. next): a
client waits on ITS node, the pop is an ordinary replicated write decided by the leader.

How a command becomes blocking (all in its type's module, nothing here):

1. Register its apply-time behaviour as a kv write, `registry.write(name, parse, run, row)`
   with "blocking" among the row's flags: ONE non-blocking attempt that pops if it can and
   answers nil (None or NULL_ARRAY) if every key is empty. `parse` checks every argument,
   the timeout included (`kv.blocking.parse_timeout`), so errors come before any wait. This
   alone is Redis's behaviour inside MULTI and scripts.
2. Register it as blocking: `kv.blocking.register(name, timeout_at=<index of the timeout in
   the arguments after the name, negative from the end>, keys=<args -> the keys it waits
   on>, nil=<the reply on timeout: NULL_ARRAY or None, as Redis>)`.

Example (kv/lists.py): `blocking.register("blpop", timeout_at=-1,
keys=lambda args: args[:-1], nil=NULL_ARRAY)`. A sorted-set BZPOPMIN is the same with its
own apply-time pop.

The dispatcher (commands/dispatch.py) sends a blocking command of a client of this node,
outside MULTI, to `client.block`; a forwarded request (an attempt from another node) always
runs once. `client.py` has the rules (where the timeout is measured, leader changes,
fairness); `waiters.py` the node's registry, woken by the state machines' apply
(`KvStateMachine.listener`, set by the runner to the node's `Waiters`).
"""

"""The Raft runtime: the Trio side of the sans-IO core in `seshat_trio.raft`.

Module map: driver (one group's member on this node: inputs, Ready loop, apply, compaction),
reads (ReadIndex waiters), proposals (each proposal's fate from what the log proves),
snapshot (chunked streaming and staged install), log_storage (the core's log over LevelDB;
one Ready -> one batch), machine (the state machine contract a driver replicates),
pending (a reply a submitted write awaits), stats (per-group counters).

It knows nothing of the node service, commands or keys: the node (`seshat_trio.node`) builds
drivers over its state machines (the KV store, the system group) and asks them for writes
and read barriers.
"""

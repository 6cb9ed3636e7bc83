"""Chaos suite for seshat-trio: real node processes, network faults injected by TCP relays,
process faults by signals, disk faults by a small filesystem, and Jepsen-style histories
checked for linearizability.

Modules:
    settings   durations and sizes, read from CHAOS_* environment variables
    relay      a fault-injecting TCP relay per directed link (block, latency, drop)
    process    one node process: start, SIGKILL, SIGSTOP/SIGCONT, restart, INFO raft, RSS
    cluster    a 3-node cluster wired through relays, with partition helpers
    workload   concurrent clients recording a history (OK / FAIL / INFO per reply)
    nemesis    a seeded random fault injector that always ends healed
    diskfull   a size-limited tmpfs for a node's data dir
    soak       `python -m chaos.soak --duration 3600`: load + periodic faults, per-minute stats
"""

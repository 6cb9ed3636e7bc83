"""Deterministic Raft simulation: one seed -> one fault schedule -> one verdict.

A run builds a `Cluster` (3 or 5 nodes, parameters drawn from the seed),
starts the client `Workload` and the `Nemesis`, and runs `steps` events with
faults; every step is checked by `invariants`.  Then it heals everything and
checks liveness: within `election_bound_ms` of simulated time a leader must
commit in its own term; then within `settle_ms` every member must catch up and
every pending request must be answered (OK, FAIL or INFO; nothing left
hanging).  Finally the clients' history must be linearizable.

Replay a failure exactly with the seed it prints:

    python -m seshat_trio.testing.raftsim --start SEED --seeds 1 --steps M -v

Rules: nothing here reads a real clock or the global `random`; a run is a pure
function of (seed, steps, overrides).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections.abc import Callable, Sequence

import attrs

from seshat_trio.raft import Role
from seshat_trio.testing.cluster import Cluster
from seshat_trio.testing.driver import NodeParams
from seshat_trio.testing.history import OpStatus
from seshat_trio.testing.invariants import InvariantViolation
from seshat_trio.testing.linearizability import check_linearizable
from seshat_trio.testing.nemesis import Nemesis, NemesisParams
from seshat_trio.testing.reconfig import ReconfigParams
from seshat_trio.testing.workload import Workload, WorkloadParams

DEFAULT_STEPS = 3000


@attrs.frozen(slots=True)
class SimConfig:
    """Everything that shapes one run; `for_seed` draws it from the seed."""

    seed: int
    steps: int = DEFAULT_STEPS
    nodes: int = 3
    node: NodeParams = attrs.field(factory=NodeParams)
    workload: WorkloadParams = attrs.field(factory=WorkloadParams)
    nemesis: NemesisParams = attrs.field(factory=NemesisParams)
    #: After healing: a leader must commit in its own term within this bound ...
    election_bound_ms: float = 2000.0
    #: Clients keep going this long after the leader is back, then stop ...
    post_heal_load_ms: float = 500.0
    #: ... and then every member must catch up and every request be answered.
    settle_ms: float = 6000.0
    trace_length: int = 300

    @classmethod
    def for_seed(cls, seed: int, steps: int = DEFAULT_STEPS) -> SimConfig:
        rng = random.Random(f"seshat-sim-config-{seed}")
        # Drawn apart so the other draws of a seed stay as they were.
        commit_publish_ms = random.Random(f"seshat-sim-commit-{seed}").choice([None, 0.2, 1.0, 5.0])
        take_messages = random.Random(f"seshat-sim-take-{seed}").random() < 0.5
        lease_reads = rng.random() < 0.4
        # Leases assume bounded clock drift (raft.md): keep the skew well inside it.
        skew = 0.02 if lease_reads else rng.choice([0.02, 0.25, 1.0])
        return cls(
            seed=seed,
            steps=steps,
            nodes=rng.choice([3, 3, 5]),
            node=NodeParams(
                clock_skew=skew,
                lease_reads=lease_reads,
                compact_every=rng.choice([4, 10, 30, 1000]),
                app_flush_probability=rng.choice([0.0, 0.2, 1.0]),
                snapshot_chunk_bytes=rng.choice([8, 64, 4096]),
                fsync_max_ms=rng.choice([0.5, 3.0, 15.0]),
                fsync_stall_probability=rng.choice([0.0, 0.0, 0.02]),
                commit_publish_ms=commit_publish_ms,
                take_messages=take_messages,
            ),
            workload=WorkloadParams(
                clients=rng.randint(2, 5),
                keys=rng.randint(1, 4),
                read_fraction=rng.uniform(0.2, 0.6),
            ),
            nemesis=NemesisParams(
                interval_max_ms=rng.choice([50.0, 150.0, 400.0]),
                membership_changes=rng.random() < 0.3,
            ),
        )

    @classmethod
    def for_membership_seed(cls, seed: int, steps: int = DEFAULT_STEPS) -> SimConfig:
        """A membership campaign: plans (join, remove, replace) run back to back from a
        group of 1, 3 or 5 voters, with faults striking inside every step."""
        base = cls.for_seed(seed, steps)
        rng = random.Random(f"seshat-sim-membership-{seed}")
        return attrs.evolve(
            base,
            # The fault phase is what this campaign is about; keep the tail short.
            post_heal_load_ms=150.0,
            nodes=rng.choice([1, 3, 3, 5]),
            nemesis=attrs.evolve(
                base.nemesis,
                interval_max_ms=rng.choice([30.0, 60.0, 150.0]),
                membership_changes=True,
                reconfig=ReconfigParams(back_to_back=rng.random() < 0.7),
                weights=(("membership", rng.choice([4.0, 8.0, 16.0])),),
            ),
        )


@attrs.frozen(slots=True)
class SimResult:
    seed: int
    ok: bool
    failure: str  # empty when ok; else the violated property and details
    trace: str  # the last events, when not ok
    sim_ms: float
    events: int
    ops: dict[OpStatus, int]
    leaders: int
    commit: int
    crashes: int
    faults: dict[str, int]
    plans: dict[str, int]  # membership plans completed, by name ("strikes": faults in them)
    recovery_ms: float  # simulated time from healing to a leader committing in its term

    def report(self, steps: int) -> str:
        """What to print for a failure: the reason, how to replay, the trace."""
        return (
            f"seed {self.seed} FAILED: {self.failure}\n"
            f"replay: python -m seshat_trio.testing.raftsim --start {self.seed} --seeds 1 "
            f"--steps {steps} -v\n"
            f"last events:\n{self.trace}"
        )


class Liveness(AssertionError):
    """The cluster did not recover within the bound after faults healed."""


class Linearizability(AssertionError):
    """The clients' history is not linearizable (or too large to decide)."""


class Simulation:
    """A cluster with its clients and nemesis; scenario tests drive it directly."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.cluster = Cluster(
            config.seed, config.nodes, config.node, trace_length=config.trace_length
        )
        self.workload = Workload(self.cluster, config.workload)
        self.nemesis = Nemesis(self.cluster, config.nemesis)
        self.recovery_ms = 0.0  # heal -> leader committing, once healed

    def start(self, *, clients: bool = True, faults: bool = True) -> None:
        self.cluster.start()
        if clients:
            self.workload.start()
        if faults:
            self.nemesis.start()

    def run_for(self, ms: float) -> None:
        self.cluster.run_until(self.cluster.now + ms)

    def await_condition(self, what: str, holds: Callable[[], bool], within_ms: float) -> None:
        """Run until `holds()`; Liveness if it does not within `within_ms`."""
        if holds():
            return
        if not self.cluster.run_until(self.cluster.now + within_ms, stop=holds):
            raise Liveness(f"{what}: not within {within_ms:.0f}ms")

    def heal_and_settle(self) -> None:
        """Stop faults, heal, keep clients busy a while, then demand quiescence."""
        self.nemesis.stop()
        self.nemesis.heal()
        healed = self.cluster.now
        self.await_condition(
            "a leader commits in its own term after healing",
            lambda: _leading(self.cluster),
            self.config.election_bound_ms,
        )
        self.recovery_ms = self.cluster.now - healed
        settle_ms = self.config.settle_ms
        self.run_for(self.config.post_heal_load_ms)
        self.workload.stop()
        try:
            self.await_condition(
                "settle after healing",
                lambda: not _unsettled(self.cluster, self.workload),
                settle_ms,
            )
        except Liveness as exc:
            raise Liveness(f"{exc}: {_unsettled(self.cluster, self.workload)}") from None

    def check_history(self) -> None:
        result = check_linearizable(self.workload.recorder.history())
        if not result.ok:
            raise Linearizability(result.explanation)

    def result(self, failure: str = "") -> SimResult:
        cluster = self.cluster
        return SimResult(
            seed=self.config.seed,
            ok=not failure,
            failure=failure,
            trace=cluster.format_trace() if failure else "",
            sim_ms=cluster.now,
            events=cluster.events,
            ops=dict(self.workload.counts),
            leaders=len(cluster.invariants.leaders),
            commit=cluster.invariants.max_commit,
            crashes=sum(node.restarts for node in cluster.nodes.values()),
            faults=dict(self.nemesis.injected),
            plans={**self.nemesis.reconfig.completed, "strikes": self.nemesis.reconfig.strikes},
            recovery_ms=self.recovery_ms,
        )


def run_simulation(config: SimConfig) -> SimResult:
    """Run one schedule; a violated property or an exception becomes a failed result."""
    sim = Simulation(config)
    failure = ""
    try:
        sim.start()
        for _ in range(config.steps):
            sim.cluster.step()
        sim.heal_and_settle()
        sim.check_history()
    except InvariantViolation as exc:
        failure = f"invariant {exc}"
    except Liveness as exc:
        failure = f"liveness: {exc}"
    except Linearizability as exc:
        failure = f"linearizability: {exc}"
    except Exception as exc:  # a crash inside the core is a finding too
        where = traceback.extract_tb(exc.__traceback__)[-1]
        failure = (
            f"exception {type(exc).__name__}: {exc} "
            f"(at {where.filename}:{where.lineno} in {where.name})"
        )
    return sim.result(failure)


def _leading(cluster: Cluster) -> bool:
    """Some live leader has committed an entry of its own term."""
    leader = cluster.leader()
    return (
        leader is not None
        and leader.core is not None
        and leader.core.log_term(leader.core.commit) == leader.core.term
    )


def _unsettled(cluster: Cluster, workload: Workload) -> str:
    """Why the cluster is not quiescent and caught up, or '' when it is."""
    leader = cluster.leader()
    if leader is None or leader.core is None or not _leading(cluster):
        return "no leader that committed an entry of its term"
    core = leader.core
    for node_id in sorted(core.membership.members):
        node = cluster.nodes[node_id]
        if node.core is None or node.core.applied != core.commit:
            applied = node.core.applied if node.core else None
            return f"node {node_id} applied {applied}, leader commit {core.commit}"
        if node.core.role is not Role.LEADER and node.core.leader_id != leader.id:
            return f"node {node_id} follows {node.core.leader_id}, not {leader.id}"
    # Nobody else leads: not a deposed member, not a removed node that never heard of it.
    for node in cluster.up_nodes():
        if node is not leader and node.core is not None and node.core.role is Role.LEADER:
            return f"node {node.id} also leads (term {node.core.term})"
    # A node removed while cut off never hears of it (nobody replicates to it any
    # more); its requests end by client timeout, so only members are held to this.
    for node in cluster.up_nodes():
        if node.id in core.membership.members and (node.pending_writes or node.pending_reads):
            return (
                f"node {node.id} still has writes at {sorted(node.pending_writes)} and "
                f"reads {sorted(node.pending_reads)} pending"
            )
    if workload.outstanding:
        return f"{workload.outstanding} client operations outstanding"
    return ""


@attrs.define
class _Totals:
    """Batch statistics for the command line."""

    schedules: int = 0
    sim_ms: float = 0.0
    events: int = 0
    elections: int = 0
    crashes: int = 0
    max_recovery_ms: float = 0.0
    plans: dict[str, int] = attrs.field(factory=dict)
    ops: dict[OpStatus, int] = attrs.field(factory=lambda: dict.fromkeys(OpStatus, 0))

    def add(self, result: SimResult) -> None:
        self.schedules += 1
        self.sim_ms += result.sim_ms
        self.events += result.events
        self.elections += result.leaders
        self.crashes += result.crashes
        self.max_recovery_ms = max(self.max_recovery_ms, result.recovery_ms)
        for name, count in result.plans.items():
            self.plans[name] = self.plans.get(name, 0) + count
        for status, count in result.ops.items():
            self.ops[status] += count

    def summary(self, wall_s: float, failed: list[int]) -> str:
        ops = ", ".join(f"{n} {s.name}" for s, n in self.ops.items())
        return (
            f"{self.schedules} schedule(s), {len(failed)} failed {failed[:20]}; "
            f"simulated {self.sim_ms / 1000:.1f}s in {self.events} events; "
            f"{self.elections} leaders elected, {self.crashes} crashes; client ops: {ops}; "
            f"membership plans done {dict(sorted(self.plans.items()))}; "
            f"worst recovery after heal {self.max_recovery_ms:.0f}ms; wall {wall_s:.1f}s"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seshat_trio.testing.raftsim",
        description="Run randomized deterministic Raft simulations; replay a seed exactly.",
    )
    parser.add_argument("--seeds", type=int, default=100, help="how many schedules to run")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="events per schedule")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per schedule")
    parser.add_argument("--keep-going", action="store_true", help="do not stop at a failure")
    parser.add_argument("--trace", type=int, default=300, help="events shown for a failure")
    parser.add_argument(
        "--membership", action="store_true", help="membership campaigns (for_membership_seed)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    failed: list[int] = []
    totals = _Totals()
    for seed in range(args.start, args.start + args.seeds):
        make = SimConfig.for_membership_seed if args.membership else SimConfig.for_seed
        config = attrs.evolve(make(seed, args.steps), trace_length=args.trace)
        result = run_simulation(config)
        totals.add(result)
        if args.verbose:
            print(
                f"seed {seed}: {'ok' if result.ok else 'FAIL'} sim={result.sim_ms:.0f}ms "
                f"events={result.events} commit={result.commit} leaders={result.leaders} "
                f"recovery={result.recovery_ms:.0f}ms "
                f"ops={ {s.name: n for s, n in result.ops.items()} } faults={result.faults} "
                f"plans={result.plans}"
            )
        if not result.ok:
            failed.append(seed)
            print(result.report(args.steps), file=sys.stderr)
            if not args.keep_going:
                break
    print(totals.summary(time.monotonic() - started, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

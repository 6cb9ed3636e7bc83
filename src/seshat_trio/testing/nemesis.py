"""The fault injector: partitions, crashes, restarts, lossy links, transfers, membership.

Rules:
- Every decision draws from the nemesis's own seeded generator, so a schedule
  is a pure function of the seed (and the cluster state it reacts to).
- Faults are chosen from a weighted table (`FAULTS`); each entry is a small
  function of (nemesis) that may decline (return None) when it does not apply.
- `heal()` undoes everything: network repaired, every crashed member restarted
  (and some removed nodes too). The liveness check runs after it.
- Membership changes are multi-step plans (join, remove, replace) run by the
  `Reconfigurer`; the "membership" fault starts one when none is running.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from seshat_trio.raft import LeadershipTransferInProgress, NotLeader
from seshat_trio.testing.cluster import Cluster
from seshat_trio.testing.network import NetworkFaults
from seshat_trio.testing.reconfig import ReconfigParams, Reconfigurer


@attrs.frozen(slots=True)
class NemesisParams:
    interval_min_ms: float = 5.0
    interval_max_ms: float = 300.0
    #: Crash at most this many nodes at once (None: a minority).
    max_down: int | None = None
    membership_changes: bool = False
    reconfig: ReconfigParams = attrs.field(factory=ReconfigParams)
    max_drop: float = 0.3
    max_duplicate: float = 0.2
    #: (fault name, weight) pairs overriding `FAULTS` weights, for targeted campaigns.
    weights: tuple[tuple[str, float], ...] = ()

    def __attrs_post_init__(self) -> None:
        unknown = {name for name, _ in self.weights} - {name for name, _ in FAULTS}
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {[n for n, _ in FAULTS]}")


class Nemesis:
    """Injects one fault every so often until `stop()`."""

    def __init__(self, cluster: Cluster, params: NemesisParams | None = None) -> None:
        self.cluster = cluster
        self.params = params or NemesisParams()
        self.rng = random.Random(cluster.rng.getrandbits(64))
        self.running = False
        self.injected: dict[str, int] = {}
        # Its own stream, seeded apart: schedules without membership changes stay as they were.
        self.reconfig = Reconfigurer(
            cluster, random.Random(f"seshat-reconfig-{cluster.seed}"), self.params.reconfig
        )

    def start(self) -> None:
        self.running = True
        self._schedule_next()
        if self.params.membership_changes and self.params.reconfig.back_to_back:
            self.reconfig.run()

    def stop(self) -> None:
        self.running = False
        self.reconfig.stop()

    def _schedule_next(self) -> None:
        p = self.params
        self.cluster.schedule(self.rng.uniform(p.interval_min_ms, p.interval_max_ms), self._act)

    def _act(self) -> None:
        if not self.running:
            return
        override = dict(self.params.weights)
        names = [name for name, _ in FAULTS]
        weights = [override.get(name, weight) for name, (weight, _) in FAULTS]
        for _ in range(4):  # a declined fault gives way to another
            name = self.rng.choices(names, weights)[0]
            done = dict(FAULTS)[name][1](self)
            if done is not None:
                self.injected[name] = self.injected.get(name, 0) + 1
                self.cluster.trace(0, f"nemesis: {done}")
                break
        self._schedule_next()

    def heal(self) -> None:
        """Repair the network and restart every crashed node."""
        self.cluster.network.heal()
        self.cluster.network.faults = NetworkFaults()
        self.reconfig.dead.clear()
        for node in self.cluster.nodes.values():
            # A removed node may come back too: it must neither disrupt the group nor be
            # needed by it (whether it knows it was removed or not).
            if not node.up and (not node.removed or self.rng.random() < 0.5):
                node.start()
        self.cluster.trace(0, "nemesis: heal everything")

    # --- helpers for the fault table ---------------------------------------------------

    def members(self) -> list[int]:
        return sorted(i for i, node in self.cluster.nodes.items() if not node.removed)

    def voters(self) -> list[int]:
        leader = self.cluster.leader()
        if leader is not None and leader.core is not None:
            return sorted(leader.core.membership.voters)
        return self.members()


def _split(n: Nemesis) -> str | None:
    members = n.members()
    if len(members) < 2:
        return None
    n.rng.shuffle(members)
    cut = n.rng.randint(1, len(members) - 1)
    n.cluster.network.heal()
    n.cluster.network.split([members[:cut], members[cut:]])
    return f"partition {sorted(members[:cut])} | {sorted(members[cut:])}"


def _isolate(n: Nemesis) -> str | None:
    members = n.members()
    leader = n.cluster.leader()
    target = leader.id if leader is not None and n.rng.random() < 0.5 else n.rng.choice(members)
    n.cluster.network.heal()
    n.cluster.network.isolate(target, members)
    return f"isolate node {target}"


def _one_way(n: Nemesis) -> str | None:
    if len(n.members()) < 2:
        return None
    src, dst = n.rng.sample(n.members(), 2)
    n.cluster.network.block_one_way(src, dst)
    return f"block {src} -> {dst}"


def _heal_network(n: Nemesis) -> str | None:
    n.cluster.network.heal()
    return "heal network"


def _lossy(n: Nemesis) -> str | None:
    p = n.params
    faults = NetworkFaults(
        drop=n.rng.uniform(0, p.max_drop),
        duplicate=n.rng.uniform(0, p.max_duplicate),
        slow=n.rng.uniform(0, 0.1),
        max_delay=n.rng.uniform(1.0, 20.0),
    )
    n.cluster.network.faults = faults
    return f"network faults {faults}"


def _crash(n: Nemesis) -> str | None:
    up = [i for i in n.members() if n.cluster.nodes[i].up]
    down = len(n.members()) - len(up)
    limit = n.params.max_down
    if limit is None:
        limit = (len(n.voters()) - 1) // 2
    if down >= limit or not up:
        return None
    leader = n.cluster.leader()
    target = leader.id if leader is not None and n.rng.random() < 0.4 else n.rng.choice(up)
    n.cluster.nodes[target].crash()
    return f"crash node {target}"


def _restart(n: Nemesis) -> str | None:
    down = [i for i in n.members() if not n.cluster.nodes[i].up and i not in n.reconfig.dead]
    if not down:
        return None
    target = n.rng.choice(down)
    n.cluster.nodes[target].start()
    return f"restart node {target}"


def _pause(n: Nemesis) -> str | None:
    up = [i for i in n.members() if n.cluster.nodes[i].up]
    if not up:
        return None
    leader = n.cluster.leader()
    target = leader.id if leader is not None and n.rng.random() < 0.5 else n.rng.choice(up)
    duration = n.rng.uniform(5.0, 400.0)
    n.cluster.nodes[target].pause(duration)
    return f"pause node {target} for {duration:.0f}ms"


def _transfer(n: Nemesis) -> str | None:
    leader = n.cluster.leader()
    if leader is None or leader.core is None:
        return None
    others = [v for v in leader.core.membership.voters if v != leader.id]
    if not others:
        return None
    target = n.rng.choice(sorted(others))
    try:
        leader.core.transfer_leadership(target)
    except (NotLeader, LeadershipTransferInProgress, ValueError):
        return None
    leader.pump()
    return f"transfer leadership {leader.id} -> {target}"


def _membership(n: Nemesis) -> str | None:
    if not n.params.membership_changes:
        return None
    return n.reconfig.start_plan()


#: (name, (weight, action)); an action returns a description, or None to decline.
FAULTS: list[tuple[str, tuple[float, Callable[[Nemesis], str | None]]]] = [
    ("split", (2.0, _split)),
    ("isolate", (2.0, _isolate)),
    ("one-way", (1.0, _one_way)),
    ("heal-network", (3.0, _heal_network)),
    ("lossy", (1.5, _lossy)),
    ("crash", (2.0, _crash)),
    ("restart", (2.5, _restart)),
    ("pause", (1.0, _pause)),
    ("transfer", (0.7, _transfer)),
    ("membership", (1.5, _membership)),
]

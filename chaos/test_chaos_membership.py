"""Membership chaos (docs/chaos.md 16-19): a node joins during a partition, the leader is
removed under load, the joining node is SIGKILLed while a snapshot streams to it, the
leader is SIGKILLed in the middle of a change. Each ends with final reads of every key
through the members and the linearizability verdict of the whole history, so no
acknowledged write is lost."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from chaos.checks import final_check, ok_writes_after
from chaos.cluster import ChaosCluster, open_cluster
from chaos.process import COMMON_FLAGS, NodeProcess
from chaos.settings import ChaosSettings
from chaos.workload import Workload
from seshat_trio.client import RedisReplyError, RespClient
from seshat_trio.testing.ports import free_ports

CHANGE_TIMEOUT = 60.0


class Joiner(NodeProcess):
    """A node that joins through `via` (a member's client port). No relay sits in front of
    it; it dials the founding members at the addresses the membership recorded, which are
    the registrar's relay ports (see `registrar`)."""

    def __init__(self, node_id: int, base_dir: Path, via: int, extra: tuple[str, ...]) -> None:
        client, internal, http = free_ports(3)
        super().__init__(
            node_id, base_dir=base_dir, client_port=client, internal_port=internal,
            http_port=http, extra=extra,
        )  # fmt: skip
        self.via = via

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "seshat_trio", "serve",
            "--node-id", str(self.node_id),
            "--data-dir", str(self.data_dir),
            "--client-addr", f"127.0.0.1:{self.client_port}",
            "--internal-addr", f"127.0.0.1:{self.internal_port}",
            "--http-addr", f"127.0.0.1:{self.http_port}",
            "--join", f"127.0.0.1:{self.via}",
            *COMMON_FLAGS, *self.extra,
        ]  # fmt: skip


def make_workload(cluster: ChaosCluster, seed: int, clients: int = 6) -> Workload:
    ports = {i: n.client_port for i, n in cluster.nodes.items()}
    return Workload(ports, clients=clients, keys=8, seed=seed, write_ratio=0.5)


async def listing(node: NodeProcess) -> str:
    reply = await node.call("SESHAT.MEMBER", "LIST", timeout=5.0)
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def group_voters(text: str) -> dict[int, set[int]]:
    found = {}
    for line in text.splitlines():
        words = line.split()
        if words[0] == "group" and words[2].startswith("leader="):
            fields = dict(word.split("=", 1) for word in words[2:])
            found[int(words[1])] = {int(v) for v in fields["voters"].split(",") if v}
    return found


async def wait_voters(node: NodeProcess, want: set[int], timeout: float = CHANGE_TIMEOUT) -> None:
    """Until every group `node` knows has exactly `want` as voters."""
    seen: dict[int, set[int]] = {}
    with trio.move_on_after(timeout):
        while True:
            try:
                seen = group_voters(await listing(node))
            except (OSError, trio.TooSlowError, trio.BrokenResourceError):
                seen = {}
            if len(seen) >= 2 and all(voters == want for voters in seen.values()):
                return
            await trio.sleep(0.1)
    raise TimeoutError(f"voters {sorted(want)} not reached within {timeout:g}s: {seen}")


async def registrar(cluster: ChaosCluster, via: int) -> int | None:
    """The founding member that recorded the members' addresses (it bootstrapped the system
    group from its own `--initial-members`, which name its relays). A joiner dials the
    others at those addresses, i.e. through that member's relays, so a scenario that cuts
    the registrar off cuts the joiner off as well: a harness artifact, not a cluster fault."""
    recorded: dict[int, int] = {}
    for line in (await listing(cluster.node(via))).splitlines():
        words = line.split()
        if words and words[0] == "member":
            recorded[int(words[1])] = int(words[2].rsplit(":", 1)[1])
    for src in cluster.ids:
        if any(
            cluster.mesh.port_of(src, dst) == port
            for dst, port in recorded.items()
            if dst != src and dst in cluster.ids
        ):
            return src
    return None


async def member_change(node: NodeProcess, *args: str | int) -> None:
    """Run the idempotent `SESHAT.MEMBER <args>` through `node` until it is answered (0 or 1).
    The node forwards it to the system group's leader, which the scenario may have just cut
    off or removed: the forward then fails ambiguously (TIMEOUT) or finds no leader
    (TRYAGAIN, CLUSTERDOWN) until the others elect another. The change is idempotent (a
    factor already set, a node already retired, answer 0), so retrying is safe."""
    with trio.fail_after(CHANGE_TIMEOUT):
        while True:
            reply = await node.call("SESHAT.MEMBER", *args, timeout=10.0)
            if reply in (0, 1):
                return
            assert isinstance(reply, RedisReplyError), reply
            assert str(reply).startswith(("TIMEOUT", "TRYAGAIN", "CLUSTERDOWN")), reply
            await trio.sleep(0.2)


async def set_factor(node: NodeProcess, factor: int) -> None:
    """Set the replication factor through `node` and read it back."""
    await member_change(node, "FACTOR", factor)
    assert await node.call("SESHAT.MEMBER", "FACTOR") == factor


async def add_joiner(
    cluster: ChaosCluster, tmp_path: Path, via: int, extra: tuple[str, ...] = ()
) -> Joiner:
    # These scenarios have the joiner enter every group: with the default replication
    # factor (3) a fourth member would replicate none of the data groups.
    await set_factor(cluster.node(via), len(cluster.ids) + 1)
    joiner = Joiner(max(cluster.ids) + 1, tmp_path, cluster.node(via).client_port, extra)
    cluster.nodes[joiner.node_id] = joiner  # the cluster kills it on exit
    joiner.launch()
    return joiner


async def test_join_during_partition(tmp_path: Path, settings: ChaosSettings) -> None:
    """16. A follower is cut off from the other two; a fourth node joins through the
    leader's side, becomes a voter of every group, and the healed cluster agrees."""
    async with open_cluster(tmp_path) as cluster:
        workload = make_workload(cluster, seed=16)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            leader = await cluster.wait_leader()
            # Not the node whose relays the joiner dials through: that would cut it off too.
            spared = {leader, await registrar(cluster, leader)}
            cut = next(i for i in cluster.ids if i not in spared)
            cluster.mesh.isolate(cut)
            joiner = await add_joiner(cluster, tmp_path, via=leader)
            await joiner.wait_serving(30.0)
            await wait_voters(cluster.node(leader), {1, 2, 3, 4})
            joined_at = trio.current_time()
            await trio.sleep(settings.phase_seconds)
            cluster.mesh.heal()
            await trio.sleep(settings.phase_seconds)
        assert ok_writes_after(workload, joined_at) > 0
        await wait_voters(cluster.node(cut), {1, 2, 3, 4})
        workload.ports[joiner.node_id] = joiner.client_port
        await final_check(workload, [1, 2, 3, 4])


async def test_remove_leader_under_load(tmp_path: Path, settings: ChaosSettings) -> None:
    """17. The leader is removed while clients write: it hands leadership over first,
    the two others keep committing, every acknowledged write is there."""
    async with open_cluster(tmp_path) as cluster:
        workload = make_workload(cluster, seed=17, clients=8)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            leader = await cluster.wait_leader()
            others = [i for i in cluster.ids if i != leader]
            await member_change(cluster.node(others[0]), "REMOVE", leader)
            await wait_voters(cluster.node(others[0]), set(others))
            removed_at = trio.current_time()
            await trio.sleep(settings.phase_seconds)
        new = await cluster.wait_leader(among=others)
        print(f"removed leader {leader}; {new} leads {others}")
        assert ok_writes_after(workload, removed_at, others) > 0
        await final_check(workload, others)


async def test_kill_joiner_mid_snapshot(tmp_path: Path, settings: ChaosSettings) -> None:
    """18. The log is compacted, so a joiner gets a chunked snapshot; it is SIGKILLed
    while the stream runs, restarts from its data directory and catches up."""
    extra = ("--snapshot-bytes", "1000000", "--snapshot-chunk-bytes", "65536")
    async with open_cluster(tmp_path, extra=extra) as cluster:
        leader = await cluster.wait_leader()
        async with await RespClient.connect("127.0.0.1", cluster.node(leader).client_port) as c:
            value = b"x" * 400
            for batch in range(20):
                await c.pipeline([("SET", f"bulk{batch}:{i}", value) for i in range(500)])
        workload = make_workload(cluster, seed=18)
        async with workload.running(cluster.ids):
            await trio.sleep(settings.phase_seconds)
            joiner = await add_joiner(cluster, tmp_path, via=leader, extra=extra)
            streamed = await wait_snapshot_stream(cluster, joiner.node_id)
            cluster.kill(joiner.node_id)
            await trio.sleep(1.0)
            await cluster.start_node(joiner.node_id)
            await wait_voters(cluster.node(leader), {1, 2, 3, joiner.node_id})
            await trio.sleep(settings.phase_seconds)
        print(f"joiner killed while group {streamed} streamed it a snapshot")
        workload.ports[joiner.node_id] = joiner.client_port
        await final_check(workload, [1, 2, 3, joiner.node_id])
        async with await RespClient.connect("127.0.0.1", joiner.client_port) as c:
            assert await c.call("GET", "bulk19:499") == b"x" * 400


async def wait_snapshot_stream(cluster: ChaosCluster, node_id: int, timeout: float = 30.0) -> int:
    """The group whose leader streams a snapshot to `node_id` (seen in its LIST)."""
    with trio.fail_after(timeout):
        while True:
            for member in [cluster.node(i) for i in (1, 2, 3)]:
                try:
                    text = await listing(member)
                except (OSError, trio.TooSlowError, trio.BrokenResourceError):
                    continue
                for line in text.splitlines():
                    words = line.split()
                    if words[2:4] == ["member", str(node_id)] and "state=snapshot" in words:
                        return int(words[1])
            await trio.sleep(0.01)


async def test_kill_leader_mid_change(tmp_path: Path, settings: ChaosSettings) -> None:
    """19. The leader is SIGKILLed as soon as a join applied, while its groups add the new
    node as a learner and promote it: the next leaders finish the change."""
    async with open_cluster(tmp_path) as cluster:
        workload = make_workload(cluster, seed=19)
        async with workload.running(cluster.ids):
            await trio.sleep(settings.phase_seconds)
            leader = await cluster.wait_leader()
            joiner = await add_joiner(cluster, tmp_path, via=leader)
            await joiner.wait_serving(30.0)  # its join applied: the change is under way
            cluster.kill(leader)
            others = [i for i in (1, 2, 3) if i != leader]
            await wait_voters(cluster.node(others[0]), {1, 2, 3, 4})
            await trio.sleep(1.0)
            await cluster.start_node(leader)
            await trio.sleep(settings.phase_seconds)
        workload.ports[joiner.node_id] = joiner.client_port
        await wait_voters(cluster.node(leader), {1, 2, 3, 4})
        await final_check(workload, [1, 2, 3, 4])

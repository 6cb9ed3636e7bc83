"""A seshat-trio cluster of real processes whose every node-to-node link runs through a
fault-injecting relay (chaos.relay), plus helpers to find the leader and wait for roles.

`open_cluster` is the only way to get one: it starts the relays in a nursery of the test's
Trio run, launches the nodes and waits for a leader, and on exit (normal or not) SIGKILLs
every node it started by PID and cancels the relays.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from chaos.process import NodeProcess
from chaos.relay import RelayMesh
from chaos.settings import load_settings
from seshat_trio.system.placement import preferred_leader
from seshat_trio.testing.ports import free_ports


class ChaosCluster:
    """Nodes by id, the relay mesh between them, and what the tests ask of both."""

    def __init__(self, nodes: dict[int, NodeProcess], mesh: RelayMesh) -> None:
        self.nodes = nodes
        self.mesh = mesh
        self.paused: set[int] = set()

    @property
    def ids(self) -> list[int]:
        return sorted(self.nodes)

    def node(self, node_id: int) -> NodeProcess:
        return self.nodes[node_id]

    def reachable(self) -> list[int]:
        """Ids of nodes that run and are not paused."""
        return [i for i, n in sorted(self.nodes.items()) if n.alive and i not in self.paused]

    async def start_node(
        self, node_id: int, env: Mapping[str, str] | None = None, *, wait: bool = True
    ) -> None:
        node = self.nodes[node_id]
        node.launch(env)
        if wait:
            await node.wait_serving()

    def kill(self, node_id: int) -> None:
        self.nodes[node_id].kill()
        self.paused.discard(node_id)

    def pause(self, node_id: int) -> None:
        self.nodes[node_id].pause()
        self.paused.add(node_id)

    def resume(self, node_id: int) -> None:
        self.nodes[node_id].resume()
        self.paused.discard(node_id)

    async def dump_stacks(self) -> None:
        """Ask every running, unpaused node to print its Python stacks into its log."""
        running = [i for i, n in self.nodes.items() if n.alive and i not in self.paused]
        for node_id in running:
            os.kill(self.nodes[node_id].pid, signal.SIGUSR2)
        if running:
            await trio.sleep(0.5)

    def kill_all(self) -> None:
        for node_id in self.nodes:
            self.kill(node_id)

    async def agreed_leader(self, among: list[int]) -> int | None:
        """The leader every node of `among` reports, if they agree, it is among them and it
        says it is the leader; else None."""
        infos = {i: await self.nodes[i].try_info() for i in among}
        if any(info is None for info in infos.values()):
            return None
        leaders = {info["group1_leader_id"] for info in infos.values() if info is not None}
        if len(leaders) != 1:
            return None
        leader = int(leaders.pop())
        leader_info = infos.get(leader)
        if leader_info is None or leader_info["group1_role"] != "leader":
            return None
        return leader

    async def wait_leader(self, timeout: float = 15.0, among: list[int] | None = None) -> int:
        """Poll INFO raft until the reachable nodes (or `among`) agree on a leader."""
        group = among if among is not None else self.reachable()
        with trio.move_on_after(timeout):
            while True:
                leader = await self.agreed_leader(group)
                if leader is not None:
                    return leader
                await trio.sleep(0.05)
        raise TimeoutError(f"no agreed leader among {group} within {timeout:g}s: {self.states()}")

    async def wait_balanced(self, groups: int, timeout: float = 30.0) -> None:
        """Until every node names, for every group, its preferred leader (the balancer's
        spread, system/placement.py): scenarios then start from one known layout instead
        of racing the balancer's first transfers."""
        ids = self.ids
        wanted = {g: preferred_leader(g, ids) for g in range(1, groups + 1)}
        with trio.move_on_after(timeout):
            while True:
                infos = [await self.nodes[i].try_info() for i in ids]
                if all(
                    info is not None
                    and all(info.get(f"group{g}_leader_id") == str(w) for g, w in wanted.items())
                    for info in infos
                ):
                    return
                await trio.sleep(0.1)
        raise TimeoutError(f"group leaders not spread as {wanted} within {timeout:g}s")

    def states(self) -> str:
        """Which nodes run, which are paused, which exited and how."""
        return ", ".join(
            f"{i}:{'paused' if i in self.paused else 'up' if n.alive else f'exit {n.returncode}'}"
            for i, n in sorted(self.nodes.items())
        )

    async def wait_role(self, node_id: int, role: str, timeout: float) -> dict[str, str]:
        """Poll until `node_id` reports `group1_role == role`; returns that INFO."""
        with trio.fail_after(timeout):
            while True:
                info = await self.nodes[node_id].try_info()
                if info is not None and info["group1_role"] == role:
                    return info
                await trio.sleep(0.05)

    async def wait_not_leader(self, node_id: int, timeout: float) -> dict[str, str]:
        """Poll until `node_id` no longer claims leadership; returns that INFO."""
        with trio.fail_after(timeout):
            while True:
                info = await self.nodes[node_id].try_info()
                if info is not None and info["group1_role"] != "leader":
                    return info
                await trio.sleep(0.05)

    async def wait_applied(self, index: int, among: list[int], timeout: float = 20.0) -> None:
        """Poll until every node of `among` has applied at least `index`."""
        with trio.move_on_after(timeout):
            while True:
                infos = [await self.nodes[i].try_info() for i in among]
                if all(
                    info is not None and int(info["group1_applied_index"]) >= index
                    for info in infos
                ):
                    return
                await trio.sleep(0.1)
        raise TimeoutError(
            f"nodes {among} did not apply index {index} within {timeout:g}s: "
            f"{await self.raft_summary()}"
        )

    async def raft_summary(self) -> str:
        """Role, term, leader, commit/applied/last/snapshot index of every reachable node."""
        fields = tuple(
            f"group1_{name}"
            for name in ("role", "term", "leader_id", "commit_index", "applied_index",
                         "last_log_index", "snapshot_index")
        )  # fmt: skip
        parts = []
        for i in self.reachable():
            info = await self.nodes[i].try_info()
            shown = (
                "no answer"
                if info is None
                else " ".join(f"{f.removeprefix('group1_')}={info.get(f)}" for f in fields)
            )
            parts.append(f"[{i}: {shown}]")
        return f"{self.states()} {' '.join(parts)}"

    def rss_kb(self) -> dict[int, int | None]:
        return {i: n.rss_kb() for i, n in sorted(self.nodes.items())}


@asynccontextmanager
async def open_cluster(
    base_dir: Path,
    *,
    size: int = 3,
    extra: tuple[str, ...] = (),
    env: Mapping[int, Mapping[str, str]] | None = None,
    data_dirs: Mapping[int, Path] | None = None,
    wait_leader: bool = True,
    password: str | None = None,
    groups: int | None = None,
) -> AsyncIterator[ChaosCluster]:
    """A started cluster of `size` nodes under `base_dir`; `env[i]` adds environment
    variables for node i, `data_dirs[i]` overrides its data directory; `password` is the
    default user's (given to the nodes in `extra` or `env`), for the harness's calls;
    `groups` data groups (default: CHAOS_GROUPS, 3). "The leader" in the harness's waits is
    group 1's; the workload's keys are spread over every group."""
    if groups is None:
        groups = load_settings().groups
    base_dir.mkdir(parents=True, exist_ok=True)
    ports = iter(free_ports(3 * size))
    nodes = {
        i: NodeProcess(
            i,
            base_dir=base_dir,
            client_port=next(ports),
            internal_port=next(ports),
            http_port=next(ports),
            extra=extra,
            groups=groups,
        )
        for i in range(1, size + 1)
    }
    for i, path in (data_dirs or {}).items():
        nodes[i].data_dir = path
    for node in nodes.values():
        node.password = password
    mesh = RelayMesh({i: n.internal_port for i, n in nodes.items()})
    cluster = ChaosCluster(nodes, mesh)
    # The test body's own failure, re-raised after the relay nursery closed, so the report
    # shows the assertion itself rather than an ExceptionGroup around it.
    body_error: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            await mesh.start(nursery)
            for i, node in nodes.items():
                node.members = ",".join(
                    f"{j}=127.0.0.1:{node.internal_port if j == i else mesh.port_of(i, j)}"
                    for j in sorted(nodes)
                )
            for i in nodes:
                await cluster.start_node(i, (env or {}).get(i), wait=False)
            for node in nodes.values():
                await node.wait_serving()
            if wait_leader:
                await cluster.wait_leader(timeout=30.0)
                await cluster.wait_balanced(groups)
            try:
                yield cluster
            except Exception as exc:
                body_error = exc
                # Every running node writes its threads' stacks into its log (SIGUSR2,
                # cli.py) before it is killed, so a stuck node shows where it is stuck.
                await cluster.dump_stacks()
            finally:
                nursery.cancel_scope.cancel()
        if body_error is not None:
            raise body_error
    finally:
        # Continue (resume) before killing is unnecessary: SIGKILL ends a stopped process.
        cluster.kill_all()

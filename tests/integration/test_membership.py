"""Dynamic membership on real processes: grow and shrink under writes, replace a lost node.

- A single node grows to 3, then 5 voters (replication factor 5) and shrinks back to 3,
  removing the leader among others, while a writer keeps writing through every member: at
  the end every acknowledged write is there, on every member.
- A SIGKILLed member of a 3-node cluster is replaced (`serve --join`, then `seshat-trio
  member remove` on the command line); the cluster then survives one more failure. A
  removal that would leave no live majority is refused, with the reason.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from harness import ClusterProcesses, MemberProcess, NodeProcess, log_tail, wait_for
from redis.backoff import NoBackoff
from redis.retry import Retry

from seshat_trio.testing.ports import free_port, free_ports


class Joiner(NodeProcess):
    """`seshat-trio serve --node-id N --join HOST:PORT` (the --join stays on restarts)."""

    def __init__(self, node_id: int, base_dir: Path, via: int | None) -> None:
        super().__init__(base_dir / f"node-{node_id}", base_dir / f"node-{node_id}.log")
        self.node_id = node_id
        self.internal_port = free_port()
        self.via = via

    def start(self, timeout: float = 15.0) -> None:
        """Start; once more with fresh client and HTTP ports if another process took one
        meanwhile (other suites run on this machine: a free port can be gone by the time
        the node binds it). The internal port stays: the cluster recorded it at the join."""
        try:
            super().start(timeout)
        except RuntimeError as exc:
            if "Address already in use" not in str(exc):
                raise
            self.port, self.http_port = free_ports(2)
            super().start(timeout)

    def argv(self) -> list[str]:
        join = [] if self.via is None else ["--join", f"127.0.0.1:{self.via}"]
        return [
            sys.executable, "-m", "seshat_trio", "serve",
            "--node-id", str(self.node_id),
            "--data-dir", str(self.data_dir),
            "--client-addr", f"127.0.0.1:{self.port}",
            "--internal-addr", f"127.0.0.1:{self.internal_port}",
            "--http-addr", f"127.0.0.1:{self.http_port}",
            *join,
        ]  # fmt: skip

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=5,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), retries=0),
        )


def listing(node: NodeProcess) -> str:
    with node.client() as r:
        text = r.execute_command("SESHAT.MEMBER", "LIST")
    return text.decode() if isinstance(text, bytes) else str(text)


def voters(node: NodeProcess) -> dict[int, set[int]]:
    """group -> its voters, as `node` sees them."""
    found = {}
    for line in listing(node).splitlines():
        words = line.split()
        if words[0] == "group" and words[2].startswith("leader="):
            fields = dict(w.split("=", 1) for w in words[2:])
            found[int(words[1])] = {int(v) for v in fields["voters"].split(",") if v}
    return found


def wait_voters(node: NodeProcess, want: set[int], timeout: float = 60.0) -> None:
    wait_for(
        f"voters {sorted(want)} in every group",
        lambda: all(v == want for v in voters(node).values()) and len(voters(node)) >= 2,
        timeout,
        every=0.2,
    )


class Writer:
    """Writes unique keys through the given nodes until stopped; remembers what was acked."""

    def __init__(self, nodes: list[NodeProcess]) -> None:
        self.nodes = list(nodes)
        self.acked: dict[bytes, bytes] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        rng = random.Random(7)
        i = 0
        while not self._stop.is_set():
            node = rng.choice(self.nodes)
            key, value = b"k%d" % i, b"v%d" % i
            i += 1
            try:
                with node.client() as r:
                    if r.set(key, value):
                        self.acked[key] = value
            except (redis.RedisError, OSError):
                self.errors += 1  # unknown outcome or refused: never counted as acked
            time.sleep(0.01)


def check_everything_acked(writer: Writer, nodes: list[NodeProcess]) -> None:
    assert len(writer.acked) > 50, writer.errors
    keys = sorted(writer.acked)
    for node in nodes:
        with node.client() as r:
            values = r.mget(keys)
        missing = [k for k, v in zip(keys, values, strict=True) if v != writer.acked[k]]
        assert not missing, f"node {node.log_path.name}: {len(missing)} acked writes missing"


def test_grow_one_to_three_to_five_and_back_to_three_under_writes(tmp_path: Path) -> None:
    first = Joiner(1, tmp_path, via=None)  # no --join, no members: founds a cluster of one
    nodes: dict[int, Joiner] = {1: first}
    try:
        first.start()
        writer = Writer([first])
        writer.start()
        for node_id in (2, 3):
            nodes[node_id] = Joiner(node_id, tmp_path, via=first.port)
            nodes[node_id].start(30)
        wait_voters(first, {1, 2, 3})
        writer.nodes = list(nodes.values())
        with first.client() as r:
            assert r.execute_command("SESHAT.MEMBER", "FACTOR", "5") == 1
        for node_id in (4, 5):
            nodes[node_id] = Joiner(node_id, tmp_path, via=nodes[2].port)
            nodes[node_id].start(30)
        wait_voters(first, {1, 2, 3, 4, 5})
        # The joiners report progress by polling node 2, which is removed next: wait for
        # their reports to finish first.
        for node_id in (4, 5):
            log_path = tmp_path / f"node-{node_id}.log"
            wait_for(
                f"node {node_id} join_complete",
                lambda p=log_path: "event=join_complete" in p.read_text() or None,
                30.0,
            )
        writer.nodes = [nodes[i] for i in (3, 4, 5)]
        for gone in (1, 2):  # node 1 led both groups from the start
            with nodes[3].client() as r:
                assert r.execute_command("SESHAT.MEMBER", "REMOVE", str(gone)) == 1
            wait_voters(nodes[3], {3, 4, 5} | ({2} if gone == 1 else set()))
        time.sleep(0.5)
        writer.stop()
        check_everything_acked(writer, [nodes[i] for i in (3, 4, 5)])
        text = listing(nodes[4])
        assert "retired 1 forced=0" in text and "retired 2 forced=0" in text
        log = (tmp_path / "node-4.log").read_text()
        assert "event=join_complete" in log and "event=join_progress" in log
    except BaseException:
        for node in nodes.values():
            print(*log_tail(f"node {node.node_id}", node.log_path), sep="\n")
        raise
    finally:
        for node in nodes.values():
            node.stop()


def member_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seshat_trio", "member", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_replace_a_killed_node_then_survive_one_more_failure(tmp_path: Path) -> None:
    cluster = ClusterProcesses(tmp_path)
    fresh = Joiner(4, tmp_path, via=cluster.nodes[1].port)
    try:
        cluster.start()
        wait_voters(cluster.nodes[1], {1, 2, 3})
        with cluster.nodes[1].client() as r:
            for i in range(100):
                assert r.set(f"before{i}", i)
        cluster.nodes[3].stop()  # SIGKILL: its disk is gone for good
        via = f"127.0.0.1:{cluster.nodes[1].port}"
        # With 3 down, removing 2 would leave {1, 3} with one live voter: refused.
        refused = member_cli("remove", "2", "--via", via)
        assert refused.returncode == 1
        assert "refusing to remove node 2" in refused.stderr and "FORCE" in refused.stderr
        fresh.start(30)
        # Factor 3: the new node votes in the system group at once, and takes node 3's
        # place in the data group once node 3 is removed (placement keeps 3 replicas).
        wait_for(
            "node 4 votes in the system group",
            lambda: voters(cluster.nodes[1])[0] == {1, 2, 3, 4},
            60.0,
        )
        removed = member_cli("remove", "3", "--via", via)
        assert removed.returncode == 0, removed.stderr
        wait_voters(cluster.nodes[1], {1, 2, 4})
        leader_node = cluster.nodes[leader_of(cluster.nodes[1], group=1)]
        info = leader_node.raft_info()
        # redis-py parses "1,2,4" as a list and "role=voter,..." as a dict.
        assert info["group1_voters"] == [1, 2, 4] and "group1_learners" in info
        member4 = info["group1_member4"]
        assert isinstance(member4, dict) and member4["role"] == "voter", member4
        listed = member_cli("list", "--via", f"127.0.0.1:{fresh.port}")
        assert listed.returncode == 0 and "retired 3 forced=0" in listed.stdout
        assert " member 4 role=voter " in listed.stdout  # progress lines from the leaders
        # One more failure: the leader of the data group.
        leader = leader_of(cluster.nodes[1], group=1)
        survivors: list[NodeProcess] = [fresh, *(n for i, n in cluster.nodes.items() if i != 3)]
        victim = next(n for n in survivors if node_id_of(n) == leader)
        victim.stop()
        alive = [n for n in survivors if n is not victim]
        wait_for("a write after the second failure", lambda: alive[0].client().set("after", 1), 30)
        for node in alive:
            with node.client() as r:
                assert r.get("after") == b"1"
                assert r.mget([f"before{i}" for i in range(100)]) == [
                    str(i).encode() for i in range(100)
                ]
        # A joined node restarts from its data directory without --join.
        if fresh is not victim:
            fresh.stop()
            fresh.via = None
            fresh.start(30)
            wait_for("the restarted joiner serves", lambda: fresh.client().get("after"), 30)
    except BaseException:
        for node in [*cluster.nodes.values(), fresh]:
            print(*log_tail(f"node log {node.log_path}", node.log_path), sep="\n")
        raise
    finally:
        cluster.stop()
        fresh.stop()


def node_id_of(node: NodeProcess) -> int:
    return node.node_id if isinstance(node, MemberProcess | Joiner) else 0


def leader_of(node: NodeProcess, group: int) -> int:
    for line in listing(node).splitlines():
        words = line.split()
        if words[:2] == ["group", str(group)] and words[2].startswith("leader="):
            return int(words[2].removeprefix("leader="))
    raise AssertionError(f"no group {group}")

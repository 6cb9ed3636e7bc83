"""Storage under stress: log compaction and snapshot install under load with bounded
memory (10), a full disk on one node (13), a torn or corrupted last log record (14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from chaos.checks import final_check, ok_writes_after
from chaos.cluster import ChaosCluster, open_cluster
from chaos.diskfull import SmallFilesystem
from chaos.settings import ChaosSettings
from chaos.workload import Workload

SNAPSHOT_ENTRIES = 100


def ports_of(cluster: ChaosCluster) -> dict[int, int]:
    return {i: n.client_port for i, n in cluster.nodes.items()}


async def sample_rss(
    cluster: ChaosCluster, samples: list[tuple[float, dict[int, int | None]]], every: float
) -> None:
    """Append each node's RSS (KiB) every `every` seconds until cancelled."""
    while True:
        samples.append((trio.current_time(), cluster.rss_kb()))
        await trio.sleep(every)


def rss_summary(samples: list[tuple[float, dict[int, int | None]]], node: int) -> tuple[int, int]:
    """(peak RSS in the first third, peak RSS in the last third) of a node, in KiB."""
    values = [s[1][node] for s in samples if s[1][node] is not None]
    third = max(1, len(values) // 3)
    first, last = values[:third], values[-third:]
    return max(v for v in first if v is not None), max(v for v in last if v is not None)


async def test_compaction_and_snapshot_install(tmp_path: Path, settings: ChaosSettings) -> None:
    """10. With --snapshot-entries 100, write many entries while a follower is down: the
    log is compacted (first_log_index moves), the follower gets a snapshot when it returns,
    and no node's RSS keeps growing (last-third peak <= first-third peak + 40 MiB)."""
    extra = ("--snapshot-entries", str(SNAPSHOT_ENTRIES))
    async with open_cluster(tmp_path, extra=extra) as cluster:
        leader = await cluster.wait_leader()
        lagger = next(i for i in cluster.ids if i != leader)
        workload = Workload(
            ports_of(cluster), clients=8, keys=64, seed=10, write_ratio=0.85, think=0.0
        )
        samples: list[tuple[float, dict[int, int | None]]] = []
        target = settings.snapshot_writes
        async with trio.open_nursery() as sampler:
            sampler.start_soon(sample_rss, cluster, samples, 0.5)
            async with workload.running([i for i in cluster.ids if i != lagger]):
                await trio.sleep(1.0)
                cluster.kill(lagger)
                with trio.move_on_after(240):
                    while len(workload.ok_writes()) < target // 2:
                        await trio.sleep(0.5)
                leader_info = await cluster.node(leader).info()
                await cluster.start_node(lagger)
                with trio.move_on_after(240):
                    while len(workload.ok_writes()) < target:
                        await trio.sleep(0.5)
            sampler.cancel_scope.cancel()
        final_leader = await cluster.wait_leader()
        commit = int((await cluster.node(final_leader).info())["group1_commit_index"])
        await cluster.wait_applied(commit, cluster.ids, timeout=60.0)
        lag_info = await cluster.node(lagger).info()
        writes = len(workload.ok_writes())
        rss = {i: rss_summary(samples, i) for i in cluster.ids if i != lagger}
        print(
            f"{writes} OK writes; leader first_log_index {leader_info['group1_first_log_index']} "
            f"snapshot {leader_info['group1_snapshot_index']}; node {lagger} after restart: "
            f"snapshot {lag_info['group1_snapshot_index']} "
            f"applied {lag_info['group1_applied_index']}"
            f"; RSS KiB (first third peak, last third peak) {rss}; {len(samples)} samples"
        )
        assert writes >= target, f"only {writes} writes in the time bound"
        assert int(leader_info["group1_first_log_index"]) > SNAPSHOT_ENTRIES
        assert int(lag_info["group1_snapshot_index"]) > 0, "the follower got no snapshot"
        for node_id, (early, late) in rss.items():
            assert late <= early + 40 * 1024, f"node {node_id} RSS grew {early} -> {late} KiB"
        await final_check(workload, cluster.ids)


async def test_disk_full_then_space_returns(tmp_path: Path, settings: ChaosSettings) -> None:
    """13. Node 3's data dir is on a 32 MiB tmpfs that gets filled: node 3 logs a clear
    storage error naming the cause and exits; the other two keep committing; once the space
    is given back, node 3 restarts, catches up and serves the same data."""
    reason = SmallFilesystem.available(tmp_path)
    if reason is not None:
        pytest.skip(reason)
    with SmallFilesystem(tmp_path / "small", 32) as fs:
        data_dirs = {3: fs.mountpoint / "node-3"}
        async with open_cluster(tmp_path / "cluster", data_dirs=data_dirs) as cluster:
            workload = Workload(ports_of(cluster), clients=6, keys=16, seed=13, write_ratio=0.7)
            async with workload.running([1, 2]):
                await trio.sleep(settings.phase_seconds)
                filled = fs.fill(leave_bytes=64 * 1024)
                full_at = trio.current_time()
                with trio.move_on_after(30):
                    while cluster.node(3).alive:
                        await trio.sleep(0.2)
                exited_after = trio.current_time() - full_at
                rc = cluster.node(3).returncode
                await trio.sleep(settings.phase_seconds)
                fs.release()
                await cluster.start_node(3)
                await trio.sleep(settings.phase_seconds)
            log = cluster.node(3).log_path.read_text(errors="replace")
            leader = await cluster.wait_leader()
            commit = int((await cluster.node(leader).info())["group1_commit_index"])
            await cluster.wait_applied(commit, [3], timeout=30.0)
            print(f"filled {filled >> 20} MiB; node 3 exited with {rc} after {exited_after:.1f}s")
            assert rc == 1, f"node 3 did not exit with status 1 on a full disk (rc={rc})"
            assert "No space left on device" in log or "ENOSPC" in log, "no clear disk error"
            assert ok_writes_after(workload, full_at, [1, 2]) > 10
            await final_check(workload, [3])
            await final_check(workload, [1, 2])


def newest_leveldb_log(data_dir: Path) -> Path:
    logs = [p for p in data_dir.rglob("*.log") if p.name != "LOG" and p.stat().st_size > 0]
    assert logs, f"no LevelDB .log file under {data_dir}"
    return max(logs, key=lambda p: (p.stat().st_mtime, p.name))


@pytest.mark.parametrize(
    ("damage", "length"),
    [
        ("none", 0),
        # 300 bytes may or may not hold entries the follower acknowledged (the WAL also
        # holds unsynced apply batches); cutting 4 KiB always loses acknowledged entries,
        # which the leader must detect and re-replicate (raft/replication.py on_reject).
        ("truncate", 300),
        ("corrupt", 300),
        ("truncate", 4096),
    ],
)
async def test_torn_last_write(
    tmp_path: Path, settings: ChaosSettings, damage: str, length: int
) -> None:
    """14. SIGKILL a follower under load (none), then also cut (truncate) or overwrite
    (corrupt) the last `length` bytes of its newest LevelDB log file: on restart it either
    serves and catches up with no wrong data (history and final reads through it), or
    refuses to start with a clear error (exit status != 0 and a message naming the
    store) - never wrong data."""
    async with open_cluster(tmp_path) as cluster:
        leader = await cluster.wait_leader()
        victim = next(i for i in cluster.ids if i != leader)
        workload = Workload(ports_of(cluster), clients=6, keys=16, seed=14, write_ratio=0.7)
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            cluster.kill(victim)
            path = newest_leveldb_log(cluster.node(victim).data_dir)
            size = path.stat().st_size
            cut = min(size // 2, length)
            with open(path, "r+b") as f:
                if damage == "truncate":
                    f.truncate(size - cut)
                elif damage == "corrupt":
                    f.seek(size - cut)
                    f.write(os.urandom(cut))
            cluster.node(victim).launch()
            with trio.move_on_after(20):
                while cluster.node(victim).alive:
                    try:
                        await cluster.node(victim).wait_serving(timeout=1.0)
                        break
                    except (RuntimeError, trio.TooSlowError):
                        pass
            await trio.sleep(settings.phase_seconds)
        node = cluster.node(victim)
        print(
            f"{damage}: {cut} of {size} bytes of {path.name}; node {victim} "
            f"{'serves' if node.alive else f'exited with {node.returncode}'}"
        )
        if node.alive:
            leader = await cluster.wait_leader()
            commit = int((await cluster.node(leader).info())["group1_commit_index"])
            await cluster.wait_applied(commit, [victim], timeout=30.0)
            await final_check(workload, [victim])
        else:
            log = node.log_tail(60)
            assert node.returncode not in (0, None)
            assert str(node.data_dir) in log, f"the refusal does not name the store:\n{log}"
            await final_check(workload, [i for i in cluster.ids if i != victim])

"""Real seshat-trio processes on 127.0.0.1 for integration tests.

`NodeProcess` is one node (the `node` fixture: a single-node store); `ClusterProcesses`
is a 3-node Raft cluster of `MemberProcess`es with fixed ports, so a member can be killed
and restarted at the same addresses. Every process is stopped by PID (SIGKILL in the
finalizers), never by name. When a test fails, the tail of each node's log is attached to
the failure report (the full logs stay under the test's tmp_path).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from differential import RedisServer, Side
from harness import ClusterFactory, ClusterProcesses, HasLogs, NodeProcess


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the node logs of a failed test's processes to its report."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, NodeProcess | ClusterProcesses | ClusterFactory):
                owner: HasLogs = value
                report.sections.extend(owner.log_sections())
    return report


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    handle = NodeProcess(tmp_path / "data", tmp_path / "node.log")
    try:
        handle.start()
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[ClusterFactory]:
    factory = ClusterFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProcesses]:
    """One cluster for the tests that only read and write (they must not damage it)."""
    cluster = ClusterProcesses(tmp_path_factory.mktemp("shared-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterProcesses]:
    """A 3-node cluster of the test module's own, with a leader: its tests may kill, pause
    and restart members (a module may define its own `cluster` instead)."""
    cluster = ClusterProcesses(tmp_path_factory.mktemp(request.path.stem))
    try:
        cluster.start()
        cluster.wait_leader()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Side]:
    """A real redis-server 7.0 for the differential tests (differential.py)."""
    if not RedisServer.available():
        pytest.skip("redis-server 7.0 is not installed (.ci/run installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis-oracle"))
    try:
        server.start()
        side = Side("redis", [server.port])
        yield side
        side.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def subject(shared_cluster: ClusterProcesses) -> Iterator[Side]:
    """The shared cluster as the differential tests' other side: node 0 is the leader."""
    leader = shared_cluster.leader()
    side = Side("seshat", [node.port for node in [leader, *shared_cluster.followers(leader)]])
    yield side
    side.close()

"""Fixtures: an in-process leader/follower pair (seshat_trio.commands.inprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from replicas import Client, Replicas

from seshat_trio.config import Config, NodeSection
from seshat_trio.storage import Store


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        pair = Replicas([a, b], Config(node=NodeSection(id=1)))
        # The follower's clock is 30 s ahead in every test: it must never matter.
        pair.follower.clock_ms += 30_000
        yield pair


@pytest.fixture(params=["leader", "follower"])
def client(request: pytest.FixtureRequest, replicas: Replicas) -> Client:
    """A client of the leader or of the follower: every test using it runs on both."""
    node = replicas.leader if request.param == "leader" else replicas.follower
    return Client(node, replicas.config)


@pytest.fixture
def leader_client(replicas: Replicas) -> Client:
    return Client(replicas.leader, replicas.config)

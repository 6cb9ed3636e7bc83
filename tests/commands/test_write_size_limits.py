"""Writes too large to become one log entry are refused with a clear error, on the node
that received them, and nothing of them is applied; a follower cuts its forwarded runs so
each request fits a node-to-node frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from replicas import Client, Replicas
from tests.commands.test_dispatch import FakeBackend, make_ctx, run

from seshat_trio.config import Config, LimitsSection, NodeSection
from seshat_trio.config.model import FORWARD_REQUEST_BUDGET
from seshat_trio.kv.operations import MAX_COMMAND_ARGS
from seshat_trio.protocol import ErrorReply as Err
from seshat_trio.storage import Store

LIMITS = LimitsSection(max_value_bytes=1_000, max_write_bytes=5_000)


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Replicas]:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        yield Replicas([a, b], Config(node=NodeSection(id=1), limits=LIMITS))


@pytest.fixture(params=["leader", "follower"])
def client(request: pytest.FixtureRequest, small: Replicas) -> Client:
    node = small.leader if request.param == "leader" else small.follower
    return Client(node, small.config)


def _mset(pairs: int, value_bytes: int) -> list[str]:
    args = ["MSET"]
    for i in range(pairs):
        args += [f"k{i}", "v" * value_bytes]
    return args


async def test_a_write_beyond_the_limit_is_refused_and_applies_nothing(client: Client) -> None:
    fits = _mset(4, 1_000)  # each value is within max_value_bytes, the whole within 5,000
    too_big = _mset(6, 1_000)
    replies = await client.pipeline([fits, ("DEL", "k0"), too_big, ("DBSIZE",)])
    assert replies[:2] == [b"OK", 1]
    error = replies[2]
    assert isinstance(error, Err)
    assert error.text.startswith("ERR write too large (")
    assert "max 5000 bytes" in error.text
    assert replies[3] == 3  # k1..k3: nothing of the refused MSET was applied


async def test_a_write_with_too_many_arguments_is_refused(client: Client) -> None:
    args = ["DEL", *(f"{i}" for i in range(MAX_COMMAND_ARGS))]
    reply = await client.call(*args)
    assert isinstance(reply, Err)
    assert reply.text == f"ERR too many arguments for a write ({MAX_COMMAND_ARGS + 1}; max 65535)"
    assert await client.call("SET", "still", "works") == b"OK"


async def test_a_transaction_beyond_the_limit_is_discarded(client: Client) -> None:
    value = "v" * 1_000
    replies = await client.pipeline(
        [("MULTI",), *(("SET", f"k{i}", value) for i in range(6)), ("EXEC",), ("DBSIZE",)]
    )
    error = replies[7]
    assert isinstance(error, Err)
    assert error.text.startswith(
        "EXECABORT Transaction discarded because of: the transaction is too large ("
    )
    assert replies[8] == 0
    assert await client.pipeline([("MULTI",), ("SET", "a", "1"), ("EXEC",)]) == [
        b"OK",
        b"QUEUED",
        [b"OK"],
    ]


async def test_a_follower_cuts_forwarded_runs_to_the_request_budget() -> None:
    backend = FakeBackend()
    backend.leading = False
    backend.remote_leader_known = True
    value = b"v" * 60_000
    big = [b"MSET", *(part for i in range(50) for part in (b"k%d" % i, value))]  # ~3 MB
    replies = await run(make_ctx(backend), big, big, big, [b"SET", b"small", b"1"])
    assert len(replies) == 2  # one entry per forwarded request
    runs = [len(forwarded) for forwarded in backend.forwarded]
    assert runs == [2, 2]  # two 3 MB writes per request: a third would pass the budget
    assert 2 * len(b"".join(big)) < FORWARD_REQUEST_BUDGET < 3 * len(b"".join(big))


async def test_a_run_of_many_small_arguments_counts_their_framing() -> None:
    # 60,001 one-byte arguments are ~0.3 MB as stored but ~1 MB in a ForwardRequest (each
    # argument is a Cap'n Proto pointer plus a padded word): eight fit the budget, not ten.
    backend = FakeBackend()
    backend.leading = False
    backend.remote_leader_known = True
    many = [b"DEL", *(b"k" for _ in range(60_000))]
    await run(make_ctx(backend), *([many] * 10))
    assert [len(forwarded) for forwarded in backend.forwarded] == [8, 2]

"""Pub/Sub on a real 3-node cluster through redis-py: a subscriber on one node receives what
is published on every node, exactly once and in publish order; patterns and shard channels;
RESP3 push messages; PUBLISH and PUBSUB count the whole cluster; a subscriber that does not
read is cut off by client-output-buffer-limit while the others keep receiving.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from harness import ClusterProcesses, MemberProcess, wait_for

pytestmark = pytest.mark.integration


def nodes(cluster: ClusterProcesses) -> list[MemberProcess]:
    return [cluster.nodes[i] for i in sorted(cluster.nodes)]


def next_message(pubsub: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5, ignore_subscribe_messages=True)
        if message is not None:
            return dict(message)
    raise AssertionError("no message within the timeout")


def wait_counted(publisher: redis.Redis, channel: str, expected: int) -> None:
    """Peer links come up in the background: publish until every subscriber is counted
    (the probe messages are received too; callers drain them)."""
    wait_for(
        f"{expected} receivers of {channel}",
        lambda: publisher.publish(channel, "probe") == expected,
        timeout=15,
        every=0.1,
    )


def drain(pubsub: Any) -> None:
    while pubsub.get_message(timeout=0.3) is not None:
        pass


def test_messages_from_every_node_reach_a_subscriber_once_in_order(
    cluster: ClusterProcesses,
) -> None:
    first, *others = nodes(cluster)
    with first.client() as sub_client:
        pubsub = sub_client.pubsub()
        pubsub.subscribe("news")
        for other in others:
            with other.client() as publisher:
                wait_counted(publisher, "news", 1)
        drain(pubsub)
        for other in [first, *others]:
            with other.client() as publisher:
                pipe = publisher.pipeline(transaction=False)
                for i in range(100):
                    pipe.publish("news", f"{other.node_id}:{i}")
                assert pipe.execute() == [1] * 100  # the receivers, counted across nodes
            got = [next_message(pubsub)["data"] for _ in range(100)]
            assert got == [f"{other.node_id}:{i}".encode() for i in range(100)]
        assert pubsub.get_message(timeout=0.5) is None  # nothing twice
        pubsub.close()


def test_patterns_and_channel_subscribers_on_several_nodes(cluster: ClusterProcesses) -> None:
    first, second, third = nodes(cluster)
    with first.client() as c1, second.client() as c2, third.client() as publisher:
        by_pattern = c1.pubsub()
        by_pattern.psubscribe("orders.*")
        both = c2.pubsub()
        both.subscribe("orders.eu")
        both.psubscribe("orders.*")
        wait_counted(publisher, "orders.eu", 3)  # one pattern + a channel and a pattern
        drain(by_pattern)
        drain(both)
        assert publisher.publish("orders.eu", "o1") == 3
        assert publisher.publish("orders.us", "o2") == 2
        assert publisher.publish("invoices", "i1") == 0
        assert next_message(by_pattern) == {
            "type": "pmessage", "pattern": b"orders.*", "channel": b"orders.eu", "data": b"o1"
        }  # fmt: skip
        assert next_message(by_pattern)["channel"] == b"orders.us"
        assert [next_message(both)["type"] for _ in range(3)] == [
            "message", "pmessage", "pmessage"
        ]  # fmt: skip
        # PUBSUB answers for the cluster from any node.
        assert publisher.pubsub_numsub("orders.eu", "orders.us") == [
            (b"orders.eu", 1), (b"orders.us", 0)
        ]  # fmt: skip
        assert publisher.pubsub_numpat() == 1  # one distinct pattern, on two nodes
        assert b"orders.eu" in publisher.pubsub_channels("orders.*")
        by_pattern.close()
        both.close()


def test_shard_channels(cluster: ClusterProcesses) -> None:
    first, second, _ = nodes(cluster)
    with first.client() as subscriber, second.client() as publisher:
        pubsub = subscriber.pubsub()
        pubsub.ssubscribe("{user1}.events")
        wait_for(
            "shard subscriber counted",
            lambda: publisher.spublish("{user1}.events", "probe") == 1,
            timeout=15,
        )
        drain(pubsub)
        assert publisher.spublish("{user1}.events", "hello") == 1
        message = pubsub.get_sharded_message(timeout=5)
        assert message is not None and message["type"] == "smessage"
        assert message["data"] == b"hello"
        assert publisher.publish("{user1}.events", "not a shard message") == 0
        assert publisher.execute_command("PUBSUB", "SHARDNUMSUB", "{user1}.events") == [
            b"{user1}.events", 1
        ]  # fmt: skip
        pubsub.close()


def test_resp3_push_messages(cluster: ClusterProcesses) -> None:
    first, _, third = nodes(cluster)
    with redis.Redis(host="127.0.0.1", port=first.port, protocol=3, socket_timeout=5) as r3:
        pubsub = r3.pubsub()
        pubsub.subscribe("push")
        with third.client() as publisher:
            wait_counted(publisher, "push", 1)
            drain(pubsub)
            assert publisher.publish("push", "pushed") == 1
        message = next_message(pubsub)
        assert message["type"] == "message" and message["data"] == b"pushed"
        pubsub.close()
    # The raw bytes: a RESP3 push (">") and, in RESP3, other commands run while subscribed.
    with socket.create_connection(("127.0.0.1", first.port), timeout=5) as raw:
        raw.sendall(b"HELLO 3\r\nSUBSCRIBE raw\r\nGET nokey\r\n")
        received = read_until(raw, b"_\r\n")
        assert b">3\r\n$9\r\nsubscribe\r\n$3\r\nraw\r\n:1\r\n_\r\n" in received
        with third.client() as publisher:
            wait_counted(publisher, "raw", 1)
            publisher.publish("raw", "hi")
        assert b">3\r\n$7\r\nmessage\r\n$3\r\nraw\r\n$2\r\nhi\r\n" in read_until(raw, b"hi\r\n")


def read_until(sock: socket.socket, marker: bytes, timeout: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += sock.recv(65536)
    assert marker in data, data
    return data


def test_subscribed_mode_in_resp2(cluster: ClusterProcesses) -> None:
    node = nodes(cluster)[1]
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as raw:
        raw.sendall(b"SUBSCRIBE a\r\nGET x\r\nPING\r\nRESET\r\nGET x\r\n")
        received = read_until(raw, b"+RESET\r\n$-1\r\n")
        assert received == (
            b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
            b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT "
            b"/ RESET are allowed in this context\r\n"
            b"*2\r\n$4\r\npong\r\n$0\r\n\r\n+RESET\r\n$-1\r\n"
        )


def test_a_subscriber_that_does_not_read_is_cut_off(cluster: ClusterProcesses) -> None:
    first, second, _ = nodes(cluster)
    with first.client() as admin:
        assert admin.config_set("client-output-buffer-limit", "pubsub 1mb 256kb 60")
    try:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", first.port))
        slow.sendall(b"CLIENT SETNAME slowpoke\r\nSUBSCRIBE firehose\r\n")
        with first.client() as reader:
            healthy = reader.pubsub()
            healthy.subscribe("firehose")
            payload = "x" * 100_000
            received: list[bytes] = []

            def keep_reading() -> None:  # the subscriber that keeps up, in its own thread
                while len(received) < 60:
                    message = healthy.get_message(timeout=5, ignore_subscribe_messages=True)
                    if message is None:
                        return
                    if message["data"] == payload.encode():
                        received.append(message["data"])

            with second.client() as publisher:
                wait_counted(publisher, "firehose", 2)
                drain(healthy)
                thread = threading.Thread(target=keep_reading)
                thread.start()
                counts = [publisher.publish("firehose", payload) for _ in range(60)]
                thread.join(30)
            assert counts[0] == 2 and counts[-1] == 1, counts  # the slow one was cut off
            assert len(received) == 60  # the reader that keeps up has every message
            healthy.close()
            names = [c["name"] for c in reader.client_list()]
            assert "slowpoke" not in names
            assert reader.info("stats")["client_output_buffer_limit_disconnections"] >= 1
        slow.close()
    finally:
        with first.client() as admin:
            admin.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")


def test_config_get_and_set_of_the_limits(cluster: ClusterProcesses, tmp_path: Path) -> None:
    with nodes(cluster)[2].client() as r:
        assert r.config_get("client-output-buffer-limit") == {
            "client-output-buffer-limit": (
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
            )
        }
        with pytest.raises(redis.ResponseError, match="Invalid client class"):
            r.config_set("client-output-buffer-limit", "master 1 2 3")
        assert r.config_set("client-output-buffer-limit", "replica 1kb 2k 3 normal 1gb 0 0")
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == (
            "normal 1073741824 0 0 slave 1024 2000 3 pubsub 33554432 8388608 60"
        )
        r.config_set(
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        )


def test_keyspace_notifications_are_raised_once_for_the_cluster(
    cluster: ClusterProcesses,
) -> None:
    leader = cluster.leader()
    followers = cluster.followers(leader)
    # Set on one follower: it is cluster state, and the leader is the node that raises.
    with followers[1].client() as r:
        assert r.config_set("notify-keyspace-events", "KEA")
    for member in nodes(cluster):
        with member.client() as r:
            wait_for(
                "the setting reaches every node",
                lambda r=r: (
                    r.config_get("notify-keyspace-events")["notify-keyspace-events"] == "AKE"
                ),
                timeout=10,
            )
    try:
        with followers[0].client() as watcher, followers[1].client() as writer:
            pubsub = watcher.pubsub()
            pubsub.psubscribe("__key*__:*")
            wait_for(
                "the pattern is counted",
                lambda: writer.publish("__keyspace@0__:probe", "x") == 1,
                timeout=15,
            )
            drain(pubsub)
            writer.set("ks:a", "1")  # a follower's write, applied on every node
            writer.set("ks:b", "2", px=200)
            writer.delete("ks:a")
            seen = [(m["channel"], m["data"]) for m in iter_messages(pubsub, 7)]
            assert seen == [
                (b"__keyspace@0__:ks:a", b"set"),
                (b"__keyevent@0__:set", b"ks:a"),
                (b"__keyspace@0__:ks:b", b"set"),
                (b"__keyevent@0__:set", b"ks:b"),
                (b"__keyspace@0__:ks:b", b"expire"),
                (b"__keyevent@0__:expire", b"ks:b"),
                (b"__keyspace@0__:ks:a", b"del"),
            ]
            rest = [(m["channel"], m["data"]) for m in iter_messages(pubsub, 3)]
            assert rest == [
                (b"__keyevent@0__:del", b"ks:a"),
                (b"__keyspace@0__:ks:b", b"expired"),  # the leader's active expiry
                (b"__keyevent@0__:expired", b"ks:b"),
            ]
            assert pubsub.get_message(timeout=0.5) is None  # once, not once per node
            pubsub.close()
    finally:
        with followers[0].client() as r:
            r.config_set("notify-keyspace-events", "")


def iter_messages(pubsub: Any, count: int) -> list[dict[str, Any]]:
    return [next_message(pubsub) for _ in range(count)]

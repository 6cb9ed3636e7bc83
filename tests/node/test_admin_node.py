"""A whole single-node seshat-trio in this process (real clock, LevelDB, sockets on
127.0.0.1): traffic over RESP, then /health, /ready and /metrics over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import h11
import trio
from prometheus_client.parser import text_string_to_metric_families

from seshat_trio.client import RespClient
from seshat_trio.config import Address, Config, NodeSection
from seshat_trio.runner import serve_node
from seshat_trio.testing.ports import free_port


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        client = h11.Connection(h11.CLIENT)
        request = h11.Request(method="GET", target=path, headers=[("host", "localhost")])
        await stream.send_all(
            (client.send(request) or b"") + (client.send(h11.EndOfMessage()) or b"")
        )
        status, body = 0, b""
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                client.receive_data(bytes(await stream.receive_some(65536)))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return status, body


async def test_in_process_node_serves_admin_endpoints(tmp_path: Path) -> None:
    http_port = free_port()
    config = Config(
        node=NodeSection(
            id=1,
            data_dir=tmp_path / "data",
            client_addr=Address("127.0.0.1", 0),
            internal_addr=Address("127.0.0.1", 0),
            http_addr=Address("127.0.0.1", http_port),
        )
    )
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            client_port = await nursery.start(serve_node, config)
            async with await RespClient.connect("127.0.0.1", client_port) as client:
                # The first write waits out the single-node election.
                while await client.call("SET", "k", "v") != b"OK":
                    await trio.sleep(0.05)
                # The system group elects on its own schedule: wait for it too.
                while b"system_role:leader" not in await client.call("INFO", "raft"):
                    await trio.sleep(0.05)
                replies = await client.pipeline([("GET", "k"), ("SET", "k", "w"), ("NOPE",)])
                assert replies[:2] == [b"v", b"OK"]

                status, body = await http_get(http_port, "/health")
                assert (status, json.loads(body)["groups"][0]["role"]) == (200, "leader")
                status, body = await http_get(http_port, "/ready")
                assert (status, json.loads(body)["status"]) == (200, "ok")
                status, body = await http_get(http_port, "/metrics")
                assert status == 200
                families = {f.name: f for f in text_string_to_metric_families(body.decode())}
                calls = {
                    (s.labels["command"], s.labels["outcome"]): s.value
                    for s in families["seshat_commands"].samples
                }
                assert calls[("get", "ok")] == 1
                assert calls[("set", "ok")] >= 2
                assert calls[("unknown", "error")] == 1
                role = {
                    (s.labels["group"], s.labels["role"]): s.value
                    for s in families["seshat_raft_role"].samples
                }
                assert role[("1", "leader")] == 1
                elections = {
                    s.labels["group"]: s.value for s in families["seshat_raft_elections"].samples
                }
                assert elections["1"] >= 1
                changes = families["seshat_raft_leader_changes"].samples
                assert {c.labels["group"]: c.value for c in changes} == {"0": 1, "1": 1}
                proposals = {
                    s.labels["group"]: s.value for s in families["seshat_raft_proposals"].samples
                }
                assert proposals["1"] >= 2
                fsyncs = [
                    s.value
                    for s in families["seshat_fsync_duration_seconds"].samples
                    if s.name.endswith("_count")
                ]
                assert fsyncs[0] >= 1
                clients = families["seshat_connected_clients"].samples
                assert clients[0].value == 1
            nursery.cancel_scope.cancel()

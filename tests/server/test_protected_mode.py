"""Protected mode: an open node (default user without a password) answers only loopback
clients; a remote one gets -DENIED saying what to set, until the default user has one."""

from __future__ import annotations

import pytest
import trio
from tests.commands.test_dispatch import FakeBackend

from seshat_trio.acl.rules import DEFAULT_USER, apply_rules
from seshat_trio.commands.context import ClientIds
from seshat_trio.config import Address, AuthSection, Config, NodeSection
from seshat_trio.node.stats import NodeStats
from seshat_trio.server import protected_mode
from seshat_trio.server.listener import RespListener


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("10.0.0.7", False), ("192.168.1.2", False), ("::ffff:10.0.0.1", False),
     ("fe80::1%eth0", False), ("0.0.0.0", False), ("not-an-ip", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert protected_mode.is_loopback(host) is loopback


async def read_all(stream: trio.SocketStream) -> bytes:
    data = b""
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            data += chunk
    return data


@pytest.mark.parametrize("enabled", [True, False])
async def test_remote_clients_of_an_open_node(
    enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every client looks remote (tests only listen on 127.0.0.1).
    monkeypatch.setattr(protected_mode, "is_loopback", lambda host: False)
    backend = FakeBackend()
    config = Config(
        node=NodeSection(id=1, client_addr=Address("127.0.0.1", 0)),
        auth=AuthSection(protected_mode=enabled),
    )
    listener = RespListener(config, backend, NodeStats(started_at=0.0), ClientIds())
    async with trio.open_nursery() as nursery:
        port = await nursery.start(listener.run)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"PING\r\n")
        if enabled:
            assert await read_all(stream) == protected_mode.DENIED  # and then closed
            assert b"ACL SETUSER default on >password" in protected_mode.DENIED
        else:
            with trio.fail_after(5):
                assert await stream.receive_some(100) == b"+PONG\r\n"
        await stream.aclose()
        # A password for the default user (on any node: users are cluster state) opens it.
        backend.users.replace({DEFAULT_USER.name: apply_rules(DEFAULT_USER, [b">pw"])})
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(b"PING\r\nAUTH pw\r\nPING\r\n")
        expected = b"-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n"
        received = b""
        with trio.fail_after(5):
            while len(received) < len(expected):
                received += await stream.receive_some(100)
        assert received == expected
        await stream.aclose()
        listener.stop()

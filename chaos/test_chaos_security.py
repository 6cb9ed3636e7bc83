"""Security on (16): the cluster runs with authenticated peers (a cluster secret), a default
password, an ACL user for the application and TLS client ports. Clients of that user write
over TLS to every node while the leader is killed and restarted and the user's password is
rotated through a follower; the history must stay linearizable, no reply may be one the
client did not expect (a spurious NOPERM or NOAUTH counts), and what the user may not do
stays refused on every node."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable
from pathlib import Path

import trio
import trustme

from chaos.checks import final_check, ok_writes_after
from chaos.cluster import ChaosCluster, open_cluster
from chaos.settings import ChaosSettings
from chaos.workload import Workload
from seshat_trio.client import RedisReplyError, RespClient
from seshat_trio.testing.ports import free_ports

ADMIN_PASSWORD = "admin-secret"
APP_RULES = ("on", "~k*", "~e*", "+@read", "+@write", "+@keyspace", "+@connection",
             "-@dangerous")  # fmt: skip


class Credentials:
    """The application's password, which the scenario rotates while clients connect."""

    def __init__(self, password: str) -> None:
        self.password = password


def certificates(directory: Path) -> tuple[list[str], ssl.SSLContext]:
    """The nodes' TLS flags and a client context (with a client certificate) of one CA."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    node, client = ca.issue_cert("127.0.0.1"), ca.issue_cert("app@seshat.test")
    paths = {name: directory / name for name in ("ca.pem", "node.crt", "node.key")}
    ca.cert_pem.write_to_path(str(paths["ca.pem"]))
    node.cert_chain_pems[0].write_to_path(str(paths["node.crt"]))
    node.private_key_pem.write_to_path(str(paths["node.key"]))
    context = ssl.create_default_context(cafile=str(paths["ca.pem"]))
    client.configure_cert(context)
    flags = ["--tls-cert-file", str(paths["node.crt"]), "--tls-key-file",
             str(paths["node.key"]), "--tls-ca-cert-file", str(paths["ca.pem"])]  # fmt: skip
    return flags, context


async def admin(cluster: ChaosCluster, node: int, *command: str) -> object:
    return await cluster.node(node).call(*command, timeout=5.0)


async def wait_user_everywhere(cluster: ChaosCluster, user: str, password: str) -> None:
    """Until every node lets `user` log in with `password` (users change through group 0)."""
    with trio.fail_after(15):
        for node in cluster.ids:
            while True:
                reply = await admin(cluster, node, "ACL", "DRYRUN", user, "GET", "k0")
                if reply == b"OK" and await logs_in(cluster, node, user, password):
                    break
                await trio.sleep(0.05)


async def logs_in(cluster: ChaosCluster, node: int, user: str, password: str) -> bool:
    try:
        conn = await RespClient.connect(
            "127.0.0.1", cluster.node(node).client_port, credentials=(user, password)
        )
    except RedisReplyError:
        return False
    await conn.aclose()
    return True


async def test_security_on_under_failover(tmp_path: Path, settings: ChaosSettings) -> None:
    secret = tmp_path / "cluster.secret"
    secret.write_text("c" * 64 + "\n")
    tls_flags, tls_context = certificates(tmp_path / "certs")
    tls_ports = dict(zip((1, 2, 3), free_ports(3), strict=True))
    env = {
        i: {"SESHAT_TLS_TLS_PORT": str(port), "SESHAT_AUTH_REQUIREPASS": ADMIN_PASSWORD}
        for i, port in tls_ports.items()
    }
    extra = ("--cluster-secret-file", str(secret), *tls_flags)
    async with open_cluster(tmp_path, extra=extra, env=env, password=ADMIN_PASSWORD) as cluster:
        leader = await cluster.wait_leader()
        follower = next(i for i in cluster.ids if i != leader)
        app = Credentials("app-pass-1")
        # Created through a follower: the change is forwarded to group 0's leader.
        reply = await admin(cluster, follower, "ACL", "SETUSER", "app", *APP_RULES,
                            f">{app.password}")  # fmt: skip
        assert reply == b"OK"
        await wait_user_everywhere(cluster, "app", app.password)

        def connect(node: int) -> Awaitable[RespClient]:
            return RespClient.connect(
                "127.0.0.1", tls_ports[node], tls=tls_context, credentials=("app", app.password)
            )

        workload = Workload(
            {i: n.client_port for i, n in cluster.nodes.items()},
            clients=6, keys=8, seed=17, connect=connect,
        )  # fmt: skip
        async with workload.running():
            await trio.sleep(settings.phase_seconds)
            old = await cluster.wait_leader()
            cluster.kill(old)
            killed_at = trio.current_time()
            survivors = [i for i in cluster.ids if i != old]
            new = await cluster.wait_leader(timeout=10.0, among=survivors)
            # Rotate the password while a node is down: add the new one, move the
            # clients over, then remove the old one, through a follower.
            changer = next(i for i in survivors if i != new)
            await admin(cluster, changer, "ACL", "SETUSER", "app", ">app-pass-2")
            app.password = "app-pass-2"
            await admin(cluster, changer, "ACL", "SETUSER", "app", "<app-pass-1")
            await trio.sleep(settings.phase_seconds)
            await cluster.start_node(old, env[old])
            await trio.sleep(settings.phase_seconds)
        print(f"leader {old} killed, {new} elected; {workload.summary()}")
        assert ok_writes_after(workload, killed_at) > 0

        # Every node, the restarted one too, enforces the same users.
        await wait_user_everywhere(cluster, "app", "app-pass-2")
        listings = {node: await admin(cluster, node, "ACL", "LIST") for node in cluster.ids}
        assert len({repr(listing) for listing in listings.values()}) == 1, listings
        for node in cluster.ids:
            assert not await logs_in(cluster, node, "app", "app-pass-1")
            conn = await connect(node)
            async with conn:
                refused = await conn.pipeline([("FLUSHALL",), ("SET", "other", "x")])
            assert [str(r) for r in refused] == [
                "NOPERM this user has no permissions to run the 'flushall' command",
                "NOPERM this user has no permissions to access one of the keys used as arguments",
            ]
            # Without a password nothing runs; without a client certificate, no TLS session.
            anonymous = await RespClient.connect("127.0.0.1", cluster.node(node).client_port)
            async with anonymous:
                assert str(await anonymous.call("GET", "k0")) == "NOAUTH Authentication required."
            no_cert = ssl.create_default_context(cafile=str(tmp_path / "certs" / "ca.pem"))
            try:
                bare = await RespClient.connect("127.0.0.1", tls_ports[node], tls=no_cert)
                async with bare:
                    await bare.call("PING")
            except (trio.BrokenResourceError, OSError):
                pass
            else:
                raise AssertionError(f"node {node} served TLS without a client certificate")
        await final_check(workload, cluster.ids)

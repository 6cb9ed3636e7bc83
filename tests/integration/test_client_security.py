"""Client security on real processes: a 3-node cluster with requirepass, ACL users and TLS,
driven by redis-py (and redis-cli --tls) on the leader and on a follower."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trustme
from harness import ClusterProcesses, MemberProcess, NodeProcess, wait_for

from seshat_trio.testing.ports import free_port

pytestmark = pytest.mark.integration
PASSWORD = "sekret"


class Certificates:
    """A CA, a certificate for the nodes (127.0.0.1) and one for clients, as PEM files."""

    def __init__(self, directory: Path, ca: trustme.CA | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = ca or trustme.CA()
        self.ca_file = directory / "ca.pem"
        self.cert_file = directory / "node.crt"
        self.key_file = directory / "node.key"
        self.client_cert_file = directory / "client.crt"
        self.client_key_file = directory / "client.key"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        node = self.ca.issue_cert("127.0.0.1", "localhost")
        node.cert_chain_pems[0].write_to_path(str(self.cert_file))
        node.private_key_pem.write_to_path(str(self.key_file))
        client = self.ca.issue_cert("client@seshat.test")
        client.cert_chain_pems[0].write_to_path(str(self.client_cert_file))
        client.private_key_pem.write_to_path(str(self.client_key_file))

    def flags(self) -> list[str]:
        return [
            "--tls-cert-file", str(self.cert_file),
            "--tls-key-file", str(self.key_file),
            "--tls-ca-cert-file", str(self.ca_file),
        ]  # fmt: skip


def tls_port(member: MemberProcess) -> int:
    return int(member.extra[member.extra.index("--tls-port") + 1])


def tls_options(certs: Certificates) -> dict[str, object]:
    """redis-py's arguments for a TLS connection with the test CA and client certificate."""
    return {
        "ssl": True,
        "ssl_ca_certs": str(certs.ca_file),
        "ssl_certfile": str(certs.client_cert_file),
        "ssl_keyfile": str(certs.client_key_file),
    }


def tls_client(member: MemberProcess, certs: Certificates, **kwargs: object) -> redis.Redis:
    return redis.Redis(
        port=tls_port(member),
        socket_timeout=5,
        **tls_options(certs),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def user_client(member: MemberProcess, user: str, password: str) -> redis.Redis:
    return redis.Redis(port=member.port, username=user, password=password, socket_timeout=5)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def secure_cluster(
    tmp_path_factory: pytest.TempPathFactory, certs: Certificates
) -> Iterator[ClusterProcesses]:
    cluster = ClusterProcesses(
        tmp_path_factory.mktemp("secure-cluster"), extra=["--requirepass", PASSWORD, *certs.flags()]
    )
    for member in cluster.nodes.values():
        member.extra = [*member.extra, "--tls-port", str(free_port())]
        member.password = PASSWORD
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def wait_users_everywhere(cluster: ClusterProcesses, user: str) -> None:
    for member in cluster.nodes.values():
        wait_for(f"{user} on node {member.node_id}", lambda m=member: user_known(m, user), 10)


def user_known(member: MemberProcess, user: str) -> bool:
    with member.client() as admin:
        return admin.acl_getuser(user) is not None


def test_the_password_is_required_on_every_node(secure_cluster: ClusterProcesses) -> None:
    for member in secure_cluster.nodes.values():
        # redis-py opens with HELLO, which is refused until the client authenticates.
        anonymous = redis.Redis(port=member.port, socket_timeout=5)
        with anonymous, pytest.raises(redis.AuthenticationError, match="authenticated"):
            anonymous.get("k")
        with pytest.raises(redis.AuthenticationError, match="invalid username-password"):
            user_client(member, "default", "wrong").ping()
        with member.client() as admin:
            assert admin.ping() is True


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_acl_by_category_on_leader_and_follower(
    secure_cluster: ClusterProcesses, role: str
) -> None:
    leader = secure_cluster.leader()
    follower = secure_cluster.followers(leader)[0]
    member = leader if role == "leader" else follower
    name = f"app-{role}"
    with follower.client() as admin:  # changed through a follower: forwarded to group 0
        assert admin.acl_setuser(
            name,
            enabled=True,
            passwords=["+pw"],
            keys=["app:*"],
            commands=[
                "+@read",
                "+@write",
                "+@connection",
                "+@transaction",
                "-@dangerous",
                "+acl|whoami",
            ],
        )
    wait_users_everywhere(secure_cluster, name)
    with leader.client() as admin:
        leader_denied = _denied_counts(admin)
    with user_client(member, name, "pw") as app:
        assert app.acl_whoami() == name
        assert app.set(f"app:{role}", "v") is True  # @write (forwarded from the follower)
        assert app.get(f"app:{role}") == b"v"  # @read
        assert app.incr(f"app:{role}:n") == 1
        pipe = app.pipeline(transaction=True)  # @transaction
        pipe.set(f"app:{role}:t", "1").incr(f"app:{role}:t")
        assert pipe.execute() == [True, 2]
        for call, denied in [
            (lambda: app.set(f"other:{role}", "v"), "keys"),  # outside ~app:*
            (app.flushall, "'flushall'"),  # @dangerous
            (lambda: app.keys("*"), "'keys'"),  # @read but @dangerous
            (lambda: app.config_get("maxclients"), "'config|get'"),  # @admin
            (lambda: app.client_kill_filter(_id=1), "'client|kill'"),  # @admin
            (app.acl_list, "'acl|list'"),
        ]:
            with pytest.raises(redis.exceptions.NoPermissionError, match=denied):
                call()
        assert app.client_id() > 0  # @connection
    with leader.client() as admin:
        assert admin.get(f"other:{role}") is None  # the refused write was never applied
        assert admin.dbsize() > 0
    with member.client() as node_admin:  # ACL LOG and the counters are the node's own
        log = node_admin.acl_log(count=10)
        assert any(e["username"] == name and e["object"] == "flushall" for e in log)
        stats = node_admin.info("stats")
        assert stats["acl_access_denied_cmd"] >= 5 and stats["acl_access_denied_key"] >= 1
        # The follower allowed the write to app:* by this user's rules and refused the
        # others itself; they never reached the leader, whose counters did not move.
        assert any(e["username"] == name and e["object"] == f"other:{role}" for e in log)
    if member is not leader:
        with leader.client() as admin:
            assert _denied_counts(admin) == leader_denied
            assert not any(e["username"] == name for e in admin.acl_log(count=100))


def _denied_counts(admin: redis.Redis) -> tuple[int, ...]:
    stats = admin.info("stats")
    return tuple(stats[f"acl_access_denied_{reason}"] for reason in ("cmd", "key", "channel"))


def test_users_are_the_same_on_every_node_and_survive_a_restart(
    secure_cluster: ClusterProcesses,
) -> None:
    leader = secure_cluster.leader()
    with leader.client() as admin:
        assert admin.acl_setuser("rotated", enabled=True, passwords=["+old"], commands=["+ping"])
        # Validated against the user as just changed, wherever group 0's leader is.
        assert admin.acl_setuser("rotated", enabled=True, passwords=["-old", "+new"])
    # Read-your-writes: the node that answered OK already enforces the change.
    with user_client(leader, "rotated", "new") as rotated:
        assert rotated.ping() is True
    wait_users_everywhere(secure_cluster, "rotated")
    listings = set()
    for member in secure_cluster.nodes.values():
        with member.client() as admin:
            listings.add(tuple(admin.acl_list()))
    assert len(listings) == 1
    # The seed (requirepass) is not applied again on restart: the stored users stay.
    follower = secure_cluster.followers(leader)[0]
    follower.stop()
    follower.start()
    with user_client(follower, "rotated", "new") as rotated:
        assert rotated.ping() is True
    with pytest.raises(redis.AuthenticationError):
        user_client(follower, "rotated", "old").ping()


def test_deleting_a_user_disconnects_it_everywhere(secure_cluster: ClusterProcesses) -> None:
    leader = secure_cluster.leader()
    with leader.client() as admin:
        assert admin.acl_setuser("temp", enabled=True, passwords=["+pw"], commands=["+@all"])
    wait_users_everywhere(secure_cluster, "temp")
    sessions = [user_client(m, "temp", "pw") for m in secure_cluster.nodes.values()]
    for session in sessions:
        assert session.ping() is True
    with leader.client() as admin:
        assert admin.acl_deluser("temp") == 1
    for session in sessions:

        def refused(session: redis.Redis = session) -> bool:
            try:
                session.ping()
            except (redis.ConnectionError, redis.exceptions.NoPermissionError):
                return True
            return False

        wait_for("the deleted user's connection is refused", refused, 10)
        session.close()


def test_tls_clients_on_leader_and_follower(
    secure_cluster: ClusterProcesses, certs: Certificates
) -> None:
    leader = secure_cluster.leader()
    follower = secure_cluster.followers(leader)[0]
    with tls_client(follower, certs, password=PASSWORD) as client:
        assert client.set("tls:k", "v") is True  # forwarded to the leader
    with tls_client(leader, certs, password=PASSWORD) as client:
        assert client.get("tls:k") == b"v"
        assert client.acl_whoami() == "default"
    # Plain and TLS side by side: the plain port still serves.
    with follower.client() as plain:
        assert plain.get("tls:k") == b"v"
    # tls-auth-clients yes (the default): no client certificate, no connection.
    no_cert = redis.Redis(
        port=tls_port(leader), ssl=True, ssl_ca_certs=str(certs.ca_file), socket_timeout=5
    )
    with pytest.raises(redis.ConnectionError):
        no_cert.ping()
    # A certificate from another CA is refused too.
    stranger = Certificates(certs.ca_file.parent / "stranger")
    with pytest.raises(redis.ConnectionError):
        tls_client(leader, stranger, password=PASSWORD).ping()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_tls(secure_cluster: ClusterProcesses, certs: Certificates) -> None:
    member = secure_cluster.followers(secure_cluster.leader())[0]
    base = [
        "redis-cli", "--tls", "-p", str(tls_port(member)), "--cacert", str(certs.ca_file),
        "--cert", str(certs.client_cert_file), "--key", str(certs.client_key_file),
        "--user", "default", "--pass", PASSWORD, "--no-auth-warning",
    ]  # fmt: skip
    out = subprocess.run([*base, "SET", "cli:k", "v"], capture_output=True, timeout=10, check=True)
    assert out.stdout.strip() == b"OK"
    out = subprocess.run([*base, "GET", "cli:k"], capture_output=True, timeout=10, check=True)
    assert out.stdout.strip() == b"v"


def test_certificates_rotate_without_a_restart(tmp_path: Path) -> None:
    old = Certificates(tmp_path / "certs")
    node = NodeProcess(tmp_path / "data", tmp_path / "node.log")
    node.extra = [*old.flags(), "--tls-port", str(free_port()), "--tls-auth-clients", "optional"]
    try:
        node.start()
        port = int(node.extra[node.extra.index("--tls-port") + 1])
        before = redis.Redis(port=port, ssl=True, ssl_ca_certs=str(old.ca_file), socket_timeout=5)
        assert before.set("k", "v") is True
        # Replace the node's files with a certificate from a new CA, as an operator would.
        new = Certificates(tmp_path / "new")
        for src, dst in [(new.cert_file, old.cert_file), (new.key_file, old.key_file),
                         (new.ca_file, old.ca_file)]:  # fmt: skip
            staged = dst.with_suffix(".tmp")
            staged.write_bytes(src.read_bytes())
            staged.replace(dst)
        after = redis.Redis(port=port, ssl=True, ssl_ca_certs=str(new.ca_file), socket_timeout=5)
        assert after.get("k") == b"v"  # a new connection gets the new certificate
        assert before.get("k") == b"v"  # an open one keeps its session
        stale = redis.Redis(
            port=port, ssl=True, ssl_ca_certs=str(tmp_path / "certs-old-ca.pem"), socket_timeout=5
        )
        old.ca.cert_pem.write_to_path(str(tmp_path / "certs-old-ca.pem"))
        with pytest.raises(redis.ConnectionError):
            stale.ping()  # the old CA no longer vouches for the node
        before.close()
        after.close()
    finally:
        node.stop()


def test_channel_permissions_on_every_node(secure_cluster: ClusterProcesses) -> None:
    leader = secure_cluster.leader()
    follower = secure_cluster.followers(leader)[0]
    with leader.client() as admin:
        assert admin.acl_setuser(
            "listener", enabled=True, passwords=["+pw"], channels=["news.*"],
            commands=["+@pubsub"],
        )  # fmt: skip
    wait_users_everywhere(secure_cluster, "listener")
    with user_client(follower, "listener", "pw") as client:
        with pytest.raises(redis.exceptions.NoPermissionError, match="channels"):
            client.publish("sport", "x")
        subscriber = client.pubsub()
        subscriber.subscribe("news.today")
        assert subscriber.get_message(timeout=5)["type"] == "subscribe"
        with leader.client() as admin:
            assert admin.publish("news.today", "hello") >= 1
        message = wait_for("the message", lambda: subscriber.get_message(timeout=0.5), 10)
        assert message["data"] == b"hello"
        # Taking the channel away closes the subscriber's connection, as Redis does.
        with leader.client() as admin:
            assert admin.acl_setuser("listener", enabled=True, reset_channels=True)

        def closed() -> bool:
            with follower.client() as admin:
                return not any(
                    c["user"] == "listener" and c["sub"] != "0" for c in admin.client_list()
                )

        wait_for("the subscriber is disconnected", closed, 10)
        with pytest.raises(redis.exceptions.NoPermissionError, match="channels"):
            client.execute_command("SUBSCRIBE", "news.today")
        subscriber.close()


def test_config_set_requirepass_applies_on_every_node(secure_cluster: ClusterProcesses) -> None:
    """CONFIG SET requirepass on a follower changes the default user's password on every
    node, as the same change through ACL SETUSER would."""
    leader = secure_cluster.leader()
    follower = secure_cluster.followers(leader)[0]
    with follower.client() as admin:
        assert admin.config_set("requirepass", "changed") is True
    try:
        # The follower answered once it applied the change; the others follow.
        assert _logs_in(follower, "changed") and not _logs_in(follower, PASSWORD)
        for member in secure_cluster.nodes.values():
            wait_for(
                f"the new password on node {member.node_id}",
                lambda m=member: _logs_in(m, "changed") and not _logs_in(m, PASSWORD),
                10,
            )
    finally:
        with user_client(follower, "default", "changed") as client:
            assert client.config_set("requirepass", PASSWORD) is True
    for member in secure_cluster.nodes.values():
        wait_for(
            f"the password back on node {member.node_id}",
            lambda m=member: _logs_in(m, PASSWORD),
            10,
        )


def _logs_in(member: MemberProcess, password: str) -> bool:
    try:
        with user_client(member, "default", password) as client:
            return bool(client.ping())
    except redis.AuthenticationError:
        return False

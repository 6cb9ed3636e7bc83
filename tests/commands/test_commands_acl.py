"""AUTH, HELLO AUTH and ACL through the command layer, on the leader and on the follower:
replies as Redis 7.0 gives them, checks before anything is forwarded, users changed through
the (shared, in-process) system group and enforced on both nodes at once."""

from __future__ import annotations

import re

from replicas import Client, Replicas

from seshat_trio.acl.rules import hash_password
from seshat_trio.acl.throttle import AuthThrottle
from seshat_trio.protocol import ErrorReply as Err

NOAUTH = Err("NOAUTH Authentication required.")
WRONGPASS = Err("WRONGPASS invalid username-password pair or user is disabled.")
NOAUTH_HELLO = Err(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time"
)
NO_KEY = Err("NOPERM this user has no permissions to access one of the keys used as arguments")


def noperm(command: str) -> Err:
    return Err(f"NOPERM this user has no permissions to run the '{command}' command")


async def admin(replicas: Replicas, *command: str) -> object:
    """A command of an unrestricted client of the leader (the default user, nopass)."""
    return await Client(replicas.leader, replicas.config).call(*command)


async def test_auth_without_a_password_configured(client: Client) -> None:
    assert await client.call("AUTH", "x") == Err(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?"
    )
    assert await client.call("AUTH", "default", "anything") == b"OK"  # nopass takes any
    assert await client.call("AUTH", "nobody", "x") == WRONGPASS
    assert await client.call("AUTH", "a", "b", "c") == Err("ERR syntax error")
    assert await client.call("ACL", "WHOAMI") == b"default"


async def test_a_default_password_requires_auth_on_new_connections(
    client: Client, replicas: Replicas
) -> None:
    assert await client.call("ACL", "SETUSER", "default", ">sekret") == b"OK"
    # This connection authenticated (as the open default user) before: it stays so.
    assert await client.call("PING") == b"PONG"
    fresh = Client(client.backend, replicas.config)
    replies = await fresh.pipeline(
        [
            ("PING",),
            ("GET",),  # arity comes first, as in Redis
            ("NOSUCH",),  # so does an unknown command
            ("CONFIG", "NOSUCH"),  # and an unknown subcommand
            ("ACL", "WHOAMI"),
            ("HELLO", "3"),
            ("AUTH", "wrong"),
            ("HELLO", "3", "AUTH", "default", "wrong"),
            ("QUIT",),
        ]
    )
    assert replies == [
        NOAUTH,
        Err("ERR wrong number of arguments for 'get' command"),
        Err("ERR unknown command 'NOSUCH', with args beginning with: "),
        Err("ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP."),
        NOAUTH,
        NOAUTH_HELLO,
        WRONGPASS,
        WRONGPASS,
        b"OK",
    ]
    fresh = Client(client.backend, replicas.config)
    hello = await fresh.call("HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "me")
    assert isinstance(hello, dict) and hello[b"proto"] == 3
    assert fresh.ctx.client.name == b"me"
    assert await fresh.call("SET", "k", "v") == b"OK"
    assert await fresh.call("RESET") == b"RESET"  # back to the default user, logged out
    assert await fresh.call("GET", "k") == NOAUTH
    assert await fresh.call("AUTH", "sekret") == b"OK"
    assert await fresh.call("GET", "k") == b"v"
    # A failed AUTH keeps the user already authenticated.
    assert await fresh.call("AUTH", "default", "nope") == WRONGPASS
    assert await fresh.call("GET", "k") == b"v"


async def test_config_set_requirepass_changes_the_default_user_everywhere(
    replicas: Replicas,
) -> None:
    follower = Client(replicas.follower, replicas.config)
    assert await follower.call("ACL", "SETUSER", "default", ">first", ">second") == b"OK"
    assert await follower.call("CONFIG", "SET", "requirepass", "s3cret") == b"OK"
    (sent,) = replicas.follower.forwarded[-1]  # through group 0's leader, hashed
    assert sent == [b"ACL", b"SETUSER", b"default", b"resetpass",
                    b"#" + hash_password(b"s3cret").encode()]  # fmt: skip
    for node in replicas.nodes:
        fresh = Client(node, replicas.config)
        assert await fresh.call("GET", "k") == NOAUTH
        assert await fresh.call("AUTH", "second") == WRONGPASS  # exactly one password now
        assert await fresh.call("AUTH", "s3cret") == b"OK"
    assert await follower.call("CONFIG", "GET", "requirepass") == []  # only a digest is kept
    # An empty requirepass opens the default user again, as in Redis.
    assert await follower.call("CONFIG", "SET", "requirepass", "") == b"OK"
    assert await Client(replicas.leader, replicas.config).call("GET", "k") is None


async def test_permissions_by_category_on_leader_and_follower(
    client: Client, replicas: Replicas
) -> None:
    rules = ("on", ">pw", "~app:*", "+@read", "+@write", "+@connection", "-@dangerous")
    assert await admin(replicas, "ACL", "SETUSER", "app", *rules) == b"OK"
    assert await client.call("AUTH", "app", "pw") == b"OK"
    forwarded_before = len(client.backend.forwarded)
    replies = await client.pipeline(
        [
            ("SET", "app:1", "v"),  # @write, a key of its own
            ("GET", "app:1"),  # @read
            ("INCR", "app:n"),
            ("SET", "other", "v"),  # a key outside ~app:*
            ("MSET", "app:2", "x", "other", "y"),
            ("DEL", "app:1"),  # @keyspace @write
            ("FLUSHALL",),  # @dangerous
            ("KEYS", "*"),  # @read but @dangerous
            ("CONFIG", "GET", "maxclients"),  # @admin
            ("CLIENT", "ID"),  # @connection
            ("CLIENT", "KILL", "ID", "1"),  # @connection but also @dangerous
            ("MULTI",),  # @transaction was not granted
            ("PING",),
        ]
    )
    assert replies[:3] == [b"OK", b"v", 1]
    assert replies[3:] == [
        NO_KEY,
        NO_KEY,
        1,
        noperm("flushall"),
        noperm("keys"),
        noperm("config|get"),
        client.ctx.client.id,
        noperm("client|kill"),
        noperm("multi"),
        b"PONG",
    ]
    # Refused writes never left the node the client talks to.
    forwarded = [c for run in client.backend.forwarded[forwarded_before:] for c in run]
    assert [b"SET", b"other", b"v"] not in forwarded and [b"FLUSHALL"] not in forwarded
    assert await admin(replicas, "GET", "other") is None


async def test_rules_apply_at_once_to_connected_clients_on_every_node(replicas: Replicas) -> None:
    assert await admin(replicas, "ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all") == b"OK"
    clients = [Client(node, replicas.config) for node in replicas.nodes]
    for c in clients:
        assert await c.call("AUTH", "u", "pw") == b"OK"
        assert await c.call("SET", "k", "v") == b"OK"
    assert await admin(replicas, "ACL", "SETUSER", "u", "-@write") == b"OK"
    for c in clients:
        assert await c.call("SET", "k", "v") == noperm("set")
        assert await c.call("GET", "k") == b"v"


async def test_deleting_a_user_closes_its_connections(replicas: Replicas) -> None:
    assert await admin(replicas, "ACL", "SETUSER", "gone", "on", "nopass", "+@all") == b"OK"
    clients = [Client(node, replicas.config) for node in replicas.nodes]
    revoked: list[int] = []
    for i, c in enumerate(clients):
        assert await c.call("AUTH", "gone", "x") == b"OK"
        c.ctx.client.auth.on_revoked = lambda i=i: revoked.append(i)  # type: ignore[misc]
    assert await admin(replicas, "ACL", "DELUSER", "gone", "nobody") == 1
    assert revoked == [0, 1]
    assert await clients[0].call("GET", "k") == noperm("get")


async def test_transactions_are_checked_when_queued_and_at_exec(
    client: Client, replicas: Replicas
) -> None:
    rules = ("on", ">pw", "~*", "+@read", "+@write", "+@transaction", "-flushall")
    assert await admin(replicas, "ACL", "SETUSER", "tx", *rules) == b"OK"
    assert await client.call("AUTH", "tx", "pw") == b"OK"
    replies = await client.pipeline([("MULTI",), ("SET", "a", "1"), ("FLUSHALL",), ("EXEC",)])
    assert replies == [
        b"OK",
        b"QUEUED",
        noperm("flushall"),
        Err("EXECABORT Transaction discarded because of previous errors."),
    ]
    assert await client.pipeline([("MULTI",), ("SET", "a", "1")]) == [b"OK", b"QUEUED"]
    assert await admin(replicas, "ACL", "SETUSER", "tx", "-set") == b"OK"
    assert await client.call("EXEC") == Err(
        "EXECABORT Transaction discarded because of: ACL rules changed between the moment the "
        "transaction was accumulated and its execution"
    )
    assert await admin(replicas, "GET", "a") is None
    log = await Client(client.backend, replicas.config).call("ACL", "LOG", "1")  # per node
    assert isinstance(log, list) and log[0][:10] == [
        b"count", 1, b"reason", b"command", b"context", b"multi", b"object", b"set",
        b"username", b"tx",
    ]  # fmt: skip


async def test_setuser_sees_what_the_cluster_committed_before(replicas: Replicas) -> None:
    """A password added through the leader and removed through a follower that has not
    applied the addition yet: the follower's SETUSER first catches up (read barrier), so
    `<old` finds the password instead of refusing the change."""
    replicas.users_lag = True
    assert await admin(replicas, "ACL", "SETUSER", "rot", "on", ">old", "+ping") == b"OK"
    assert replicas.follower.users.user(b"rot") is None  # not applied there yet
    follower = Client(replicas.follower, replicas.config)
    assert await follower.call("ACL", "SETUSER", "rot", "<old", ">new") == b"OK"
    user = replicas.leader.users.user(b"rot")
    assert user is not None and user.passwords == (hash_password(b"new"),)
    assert await follower.call("ACL", "DRYRUN", "rot", "PING") == b"OK"


async def test_failed_logins_from_one_address_are_throttled(replicas: Replicas) -> None:
    assert await admin(replicas, "ACL", "SETUSER", "app", "on", ">right", "+ping") == b"OK"
    refused: list[str] = []
    replicas.follower.users.throttle = AuthThrottle(3, 60.0, on_refused=lambda: refused.append(""))
    guesser, other = (Client(replicas.follower, replicas.config) for _ in range(2))
    guesser.ctx.client.addr = other.ctx.client.addr = "10.0.0.7:40000"
    for _ in range(3):
        assert await guesser.call("AUTH", "app", "wrong") == WRONGPASS
    limited = Err(
        "ERR too many failed authentication attempts from 10.0.0.7 (3 in 60 s); "
        "try again in 60 s"
    )
    # Every connection from that address, even with the right password, HELLO AUTH too.
    assert await other.call("AUTH", "app", "right") == limited
    assert await guesser.call("HELLO", "3", "AUTH", "app", "right") == limited
    assert len(refused) == 2
    elsewhere = Client(replicas.follower, replicas.config)
    elsewhere.ctx.client.addr = "10.0.0.8:40000"
    assert await elsewhere.call("AUTH", "app", "right") == b"OK"
    # The leader keeps its own count (each node limits its own clients).
    at_leader = Client(replicas.leader, replicas.config)
    at_leader.ctx.client.addr = "10.0.0.7:40001"
    assert await at_leader.call("AUTH", "app", "right") == b"OK"


async def test_setuser_on_the_follower_travels_hashed(replicas: Replicas) -> None:
    follower = Client(replicas.follower, replicas.config)
    assert await follower.call("ACL", "SETUSER", "eve", "on", ">topsecret", "+get") == b"OK"
    (sent,) = replicas.follower.forwarded[-1]
    assert b"topsecret" not in b" ".join(sent)
    assert sent[4] == b"#" + hash_password(b"topsecret").encode()
    for node in replicas.nodes:
        user = node.users.user(b"eve")
        assert user is not None and user.passwords == (hash_password(b"topsecret"),)
    assert await follower.call("AUTH", "eve", "topsecret") == b"OK"


async def test_acl_subcommands(client: Client, replicas: Replicas) -> None:
    setuser = ("ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "&chan*", "+@read", "-keys")
    assert await client.call(*setuser) == b"OK"
    digest = hash_password(b"pw")
    assert await client.call("ACL", "LIST") == [
        f"user alice on #{digest} ~app:* resetchannels &chan* -@all +@read -keys".encode(),
        b"user default on nopass ~* &* +@all",
    ]
    assert await client.call("ACL", "USERS") == [b"alice", b"default"]
    assert await client.call("ACL", "GETUSER", "alice") == [
        b"flags", [b"on"], b"passwords", [digest.encode()],
        b"commands", b"-@all +@read -keys", b"keys", b"~app:*", b"channels", b"&chan*",
        b"selectors", [],
    ]  # fmt: skip
    assert await client.call("ACL", "GETUSER", "nobody") is None
    assert await client.call("ACL", "SETUSER", "bad name") == Err(
        "ERR Usernames can't contain spaces or null characters"
    )
    assert await client.call("ACL", "SETUSER", "alice", "+nosuch") == Err(
        "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
    )
    assert await client.call("ACL", "DELUSER", "default") == Err(
        "ERR The 'default' user cannot be removed"
    )
    assert await client.call("ACL", "DRYRUN", "alice", "get", "app:1") == b"OK"
    assert await client.call("ACL", "DRYRUN", "alice", "keys", "*") == (
        b"This user has no permissions to run the 'keys' command"
    )
    assert await client.call("ACL", "DRYRUN", "nobody", "get", "x") == Err(
        "ERR User 'nobody' not found"
    )
    password = await client.call("ACL", "GENPASS")
    assert isinstance(password, bytes) and re.fullmatch(rb"[0-9a-f]{64}", password)
    assert len(await client.call("ACL", "GENPASS", "5")) == 2  # type: ignore[arg-type]
    assert await client.call("ACL", "GENPASS", "0") == Err(
        "ERR ACL GENPASS argument must be the number of bits for the output password, "
        "a positive number up to 4096"
    )
    cat = await client.call("ACL", "CAT")
    assert isinstance(cat, list) and cat[:3] == [b"keyspace", b"read", b"write"]
    assert b"flushall" in await client.call("ACL", "CAT", "dangerous")  # type: ignore[operator]
    assert await client.call("ACL", "CAT", "nosuch") == Err("ERR Unknown category 'nosuch'")
    for sub in ("SAVE", "LOAD"):
        reply = await client.call("ACL", sub)
        assert isinstance(reply, Err) and "replicated through the system Raft group" in reply.text
    assert await client.call("ACL", "WHOAMI", "x") == Err(
        "ERR wrong number of arguments for 'acl|whoami' command"
    )
    assert await client.call("ACL", "NOSUCH") == Err(
        "ERR unknown subcommand 'NOSUCH'. Try ACL HELP."
    )


async def test_failed_logins_are_logged_and_client_list_shows_users(
    client: Client, replicas: Replicas
) -> None:
    assert await client.call("AUTH", "mallory", "guess") == WRONGPASS
    entry = (await client.call("ACL", "LOG"))[0]  # type: ignore[index]
    fields = dict(zip(entry[::2], entry[1::2], strict=True))
    assert fields[b"reason"] == b"auth" and fields[b"object"] == b"auth"
    assert fields[b"username"] == b"mallory" and fields[b"context"] == b"toplevel"
    assert isinstance(fields[b"age-seconds"], bytes)  # a double, as text in RESP2
    assert await client.call("ACL", "LOG", "RESET") == b"OK"
    assert await client.call("ACL", "LOG") == []
    assert await admin(replicas, "ACL", "SETUSER", "carol", "on", "nopass", "+@all") == b"OK"
    assert await client.call("AUTH", "carol", "x") == b"OK"
    info = await client.call("CLIENT", "INFO")
    assert isinstance(info, bytes) and b" user=carol " in info


SCRIPT_DENIED = "The user executing the script can't run this command or subcommand"
SCRIPT_NO_KEY = (
    "The user executing the script can't access at least one of the keys mentioned in the "
    "command arguments"
)


async def test_scripts_run_as_their_caller(client: Client, replicas: Replicas) -> None:
    rules = ("on", ">pw", "~app:*", "+@all", "-flushall")
    assert await admin(replicas, "ACL", "SETUSER", "scripter", *rules) == b"OK"
    assert await admin(replicas, "SET", "other", "untouched") == b"OK"
    assert await client.call("AUTH", "scripter", "pw") == b"OK"
    body = "redis.call('set', KEYS[1], 'v') return redis.call('get', KEYS[1])"
    assert await client.call("EVAL", body, "1", "app:1") == b"v"
    replies = await client.pipeline(
        [
            ("EVAL", "return redis.call('flushall')", "0"),
            ("EVAL", "return redis.call('set', 'other', 'x')", "0"),
            ("EVAL", "return redis.pcall('get', 'other')", "0"),
            ("EVAL_RO", "return redis.call('get', 'other')", "0"),
            ("EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "other"),  # refused before
            ("MULTI",),
            ("EVAL", "return redis.call('del', 'other')", "0"),
            ("EXEC",),
        ]
    )
    for reply, expected in zip(replies[:4], [SCRIPT_DENIED, SCRIPT_NO_KEY, SCRIPT_NO_KEY,
                                             SCRIPT_NO_KEY], strict=True):  # fmt: skip
        assert isinstance(reply, Err) and expected in reply.text, reply
    assert replies[4] == NO_KEY
    assert replies[5:7] == [b"OK", b"QUEUED"]
    assert isinstance(replies[7], list) and SCRIPT_NO_KEY in str(replies[7][0])
    assert await admin(replicas, "GET", "other") == b"untouched"
    assert await admin(replicas, "DBSIZE") == 2  # nothing flushed
    # A client cannot hand its script rules of its own choosing.
    forged = await client.call("EVAL", "return redis.call('get', 'other')", "acl", "{}", "0")
    assert forged == Err("ERR value is not an integer or out of range")
    # An unrestricted caller's scripts are not checked.
    assert await admin(replicas, "EVAL", "return redis.call('get', 'other')", "0") == b"untouched"

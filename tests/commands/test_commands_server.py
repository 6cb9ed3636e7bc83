"""Server, connection and introspection commands: TIME, SAVE family, DEBUG, FUNCTION, COMMAND
metadata for every command, CONFIG GET/SET, CLIENT LIST/INFO/KILL, RESET."""

from __future__ import annotations

import attrs
from replicas import Client, Replicas

from seshat_trio.commands.context import ClientState
from seshat_trio.commands.table import COMMANDS
from seshat_trio.protocol import ErrorReply as Err

# Redis 7.0's COMMAND INFO: arity, first key, last key, step.
REDIS_TABLE = {
    "get": (2, 1, 1, 1), "set": (-3, 1, 1, 1), "setnx": (3, 1, 1, 1), "setex": (4, 1, 1, 1),
    "psetex": (4, 1, 1, 1), "getset": (3, 1, 1, 1), "getdel": (2, 1, 1, 1),
    "getex": (-2, 1, 1, 1), "mget": (-2, 1, -1, 1), "mset": (-3, 1, -1, 2),
    "msetnx": (-3, 1, -1, 2), "append": (3, 1, 1, 1), "strlen": (2, 1, 1, 1),
    "getrange": (4, 1, 1, 1), "substr": (4, 1, 1, 1), "setrange": (4, 1, 1, 1),
    "incr": (2, 1, 1, 1), "decr": (2, 1, 1, 1), "incrby": (3, 1, 1, 1), "decrby": (3, 1, 1, 1),
    "incrbyfloat": (3, 1, 1, 1), "del": (-2, 1, -1, 1), "unlink": (-2, 1, -1, 1),
    "exists": (-2, 1, -1, 1), "touch": (-2, 1, -1, 1), "type": (2, 1, 1, 1),
    "rename": (3, 1, 2, 1), "renamenx": (3, 1, 2, 1), "copy": (-3, 1, 2, 1),
    "keys": (2, 0, 0, 0), "scan": (-2, 0, 0, 0), "randomkey": (1, 0, 0, 0),
    "dbsize": (1, 0, 0, 0), "flushdb": (-1, 0, 0, 0), "flushall": (-1, 0, 0, 0),
    "expire": (-3, 1, 1, 1), "pexpire": (-3, 1, 1, 1), "expireat": (-3, 1, 1, 1),
    "pexpireat": (-3, 1, 1, 1), "ttl": (2, 1, 1, 1), "pttl": (2, 1, 1, 1),
    "expiretime": (2, 1, 1, 1), "pexpiretime": (2, 1, 1, 1), "persist": (2, 1, 1, 1),
    "multi": (1, 0, 0, 0), "exec": (1, 0, 0, 0), "discard": (1, 0, 0, 0),
    "watch": (-2, 1, -1, 1), "unwatch": (1, 0, 0, 0), "time": (1, 0, 0, 0),
    "echo": (2, 0, 0, 0), "ping": (-1, 0, 0, 0), "lastsave": (1, 0, 0, 0),
    "save": (1, 0, 0, 0), "bgsave": (-1, 0, 0, 0), "debug": (-2, 0, 0, 0),
    "command": (-1, 0, 0, 0), "config": (-2, 0, 0, 0), "client": (-2, 0, 0, 0),
    "reset": (1, 0, 0, 0), "function": (-2, 0, 0, 0), "info": (-1, 0, 0, 0),
    "select": (2, 0, 0, 0), "quit": (-1, 0, 0, 0), "hello": (-1, 0, 0, 0),
    "object": (-2, 0, 0, 0),
    "hset": (-4, 1, 1, 1), "hsetnx": (4, 1, 1, 1), "hget": (3, 1, 1, 1), "hmget": (-3, 1, 1, 1),
    "hmset": (-4, 1, 1, 1), "hdel": (-3, 1, 1, 1), "hexists": (3, 1, 1, 1), "hlen": (2, 1, 1, 1),
    "hstrlen": (3, 1, 1, 1), "hkeys": (2, 1, 1, 1), "hvals": (2, 1, 1, 1),
    "hgetall": (2, 1, 1, 1), "hincrby": (4, 1, 1, 1), "hincrbyfloat": (4, 1, 1, 1),
    "hrandfield": (-2, 1, 1, 1), "hscan": (-3, 1, 1, 1),
    "lpush": (-3, 1, 1, 1), "rpush": (-3, 1, 1, 1), "lpushx": (-3, 1, 1, 1),
    "rpushx": (-3, 1, 1, 1), "lpop": (-2, 1, 1, 1), "rpop": (-2, 1, 1, 1), "llen": (2, 1, 1, 1),
    "lrange": (4, 1, 1, 1), "lindex": (3, 1, 1, 1), "lset": (4, 1, 1, 1),
    "linsert": (5, 1, 1, 1), "lrem": (4, 1, 1, 1), "ltrim": (4, 1, 1, 1), "lpos": (-3, 1, 1, 1),
    "lmove": (5, 1, 2, 1), "rpoplpush": (3, 1, 2, 1), "lmpop": (-4, 0, 0, 0),
    "blpop": (-3, 1, -2, 1), "brpop": (-3, 1, -2, 1), "blmove": (6, 1, 2, 1),
    "brpoplpush": (4, 1, 2, 1), "blmpop": (-5, 0, 0, 0),
    "zadd": (-4, 1, 1, 1), "zincrby": (4, 1, 1, 1), "zrem": (-3, 1, 1, 1), "zcard": (2, 1, 1, 1),
    "zscore": (3, 1, 1, 1), "zmscore": (-3, 1, 1, 1), "zrank": (3, 1, 1, 1),
    "zrevrank": (3, 1, 1, 1), "zcount": (4, 1, 1, 1), "zlexcount": (4, 1, 1, 1),
    "zrange": (-4, 1, 1, 1), "zrangestore": (-5, 1, 2, 1), "zrevrange": (-4, 1, 1, 1),
    "zrangebyscore": (-4, 1, 1, 1), "zrevrangebyscore": (-4, 1, 1, 1),
    "zrangebylex": (-4, 1, 1, 1), "zrevrangebylex": (-4, 1, 1, 1),
    "zremrangebyrank": (4, 1, 1, 1), "zremrangebyscore": (4, 1, 1, 1),
    "zremrangebylex": (4, 1, 1, 1), "zpopmin": (-2, 1, 1, 1), "zpopmax": (-2, 1, 1, 1),
    "zmpop": (-4, 0, 0, 0), "zrandmember": (-2, 1, 1, 1), "zscan": (-3, 1, 1, 1),
    "zunion": (-3, 0, 0, 0), "zunionstore": (-4, 1, 1, 1), "zinter": (-3, 0, 0, 0),
    "zinterstore": (-4, 1, 1, 1), "zintercard": (-3, 0, 0, 0), "zdiff": (-3, 0, 0, 0),
    "zdiffstore": (-4, 1, 1, 1), "bzpopmin": (-3, 1, -2, 1), "bzpopmax": (-3, 1, -2, 1),
    "bzmpop": (-5, 0, 0, 0),
    "subscribe": (-2, 0, 0, 0), "unsubscribe": (-1, 0, 0, 0), "psubscribe": (-2, 0, 0, 0),
    "punsubscribe": (-1, 0, 0, 0), "ssubscribe": (-2, 1, -1, 1),
    "sunsubscribe": (-1, 1, -1, 1), "publish": (3, 0, 0, 0), "spublish": (3, 1, 1, 1),
    "pubsub": (-2, 0, 0, 0),
    "eval": (-3, 0, 0, 0), "evalsha": (-3, 0, 0, 0), "eval_ro": (-3, 0, 0, 0),
    "evalsha_ro": (-3, 0, 0, 0), "script": (-2, 0, 0, 0), "fcall": (-3, 0, 0, 0),
    "fcall_ro": (-3, 0, 0, 0),
    "auth": (-2, 0, 0, 0), "acl": (-2, 0, 0, 0),
    "sadd": (-3, 1, 1, 1), "srem": (-3, 1, 1, 1), "scard": (2, 1, 1, 1),
    "sismember": (3, 1, 1, 1), "smismember": (-3, 1, 1, 1), "smembers": (2, 1, 1, 1),
    "srandmember": (-2, 1, 1, 1), "spop": (-2, 1, 1, 1), "smove": (4, 1, 2, 1),
    "sinter": (-2, 1, -1, 1), "sintercard": (-3, 0, 0, 0), "sinterstore": (-3, 1, -1, 1),
    "sunion": (-2, 1, -1, 1), "sunionstore": (-3, 1, -1, 1), "sdiff": (-2, 1, -1, 1),
    "sdiffstore": (-3, 1, -1, 1), "sscan": (-3, 1, 1, 1),
    "seshat.member": (-2, 0, 0, 0),
    "cluster": (-2, 0, 0, 0), "readonly": (1, 0, 0, 0), "readwrite": (1, 0, 0, 0),
    "asking": (1, 0, 0, 0),
}  # fmt: skip
WRITE_COMMANDS = {
    "set", "setnx", "setex", "psetex", "getset", "getdel", "getex", "mset", "msetnx",
    "append", "setrange", "incr", "decr", "incrby", "decrby", "incrbyfloat", "del", "unlink",
    "rename", "renamenx", "copy", "flushdb", "flushall", "expire", "pexpire", "expireat",
    "pexpireat", "persist", "hset", "hsetnx", "hmset", "hdel", "hincrby", "hincrbyfloat",
    "sadd", "srem", "spop", "smove", "sinterstore", "sunionstore", "sdiffstore",
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "lset", "linsert", "lrem", "ltrim",
    "lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmove", "brpoplpush", "blmpop",
    "zadd", "zincrby", "zrem", "zrangestore", "zremrangebyrank", "zremrangebyscore",
    "zremrangebylex", "zpopmin", "zpopmax", "zmpop", "zunionstore", "zinterstore", "zdiffstore",
    "bzpopmin", "bzpopmax", "bzmpop",
}  # fmt: skip


async def test_command_info_matches_redis_for_every_command(leader_client: Client) -> None:
    assert set(COMMANDS) == {name.encode() for name in REDIS_TABLE}
    assert await leader_client.call("COMMAND", "COUNT") == len(REDIS_TABLE)
    listed = await leader_client.call("COMMAND", "LIST")
    assert isinstance(listed, list) and sorted(listed) == sorted(n.encode() for n in REDIS_TABLE)
    rows = await leader_client.call("COMMAND", "INFO", *REDIS_TABLE)
    assert isinstance(rows, list)
    for name, row in zip(REDIS_TABLE, rows, strict=True):
        arity, first, last, step = REDIS_TABLE[name]
        assert row[:2] == [name.encode(), arity] and row[3:6] == [first, last, step], name
        assert (b"write" in row[2]) == (name in WRITE_COMMANDS), name
        if name in WRITE_COMMANDS or name in ("get", "mget", "ttl", "keys", "scan"):
            assert (b"readonly" in row[2]) != (b"write" in row[2]), name
    docs = await leader_client.call("COMMAND", "DOCS", "getex")
    assert isinstance(docs, list) and docs[0] == b"getex"


async def test_time_echo_and_saves(client: Client, replicas: Replicas) -> None:
    now = client.backend.clock_ms
    assert await client.call("TIME") == [str(now // 1000).encode(), str(now % 1000 * 1000).encode()]
    assert await client.call("ECHO", "hello") == b"hello"
    before = await client.call("LASTSAVE")
    assert await client.call("SAVE") == b"OK"
    assert await client.call("BGSAVE") == b"Background saving started"
    assert await client.call("BGSAVE", "SCHEDULE") == b"Background saving started"
    assert await client.call("BGSAVE", "NOW") == Err("ERR syntax error")
    assert client.backend.saves == 3
    assert await client.call("LASTSAVE") == before + 3  # type: ignore[operator]


async def test_debug_and_function(leader_client: Client) -> None:
    assert await leader_client.pipeline(
        [
            ("DEBUG", "SLEEP", "0"),
            ("DEBUG", "SLEEP", "x"),
            ("DEBUG", "RELOAD"),
            ("FUNCTION", "FLUSH"),
            ("FUNCTION", "FLUSH", "SYNC"),
            ("FUNCTION", "FLUSH", "LATER"),
            ("FUNCTION", "LIST"),
        ]
    ) == [
        b"OK",
        Err("ERR value is not a valid float"),
        Err("ERR unknown subcommand 'RELOAD'. Try DEBUG HELP."),
        b"OK",
        b"OK",
        Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        [],
    ]


async def test_config_get_and_set(leader_client: Client) -> None:
    assert await leader_client.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"10000"]
    reply = await leader_client.call("CONFIG", "GET", "a[p]pend*")
    assert reply == [b"appendonly", b"yes", b"appendfsync", b"always"]
    assert await leader_client.pipeline(
        [
            ("CONFIG", "SET", "save", ""),
            ("CONFIG", "SET", "maxclients", "10000", "appendonly", "yes"),
            ("CONFIG", "SET", "maxclients", "5"),
            ("CONFIG", "SET", "nosuch", "1"),
            ("CONFIG", "SET", "save"),
        ]
    ) == [
        b"OK",
        b"OK",
        Err(
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
            "can't set immutable config"
        ),
        Err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
        Err("ERR wrong number of arguments for 'config|set' command"),
    ]


@attrs.define
class FakeRegistry:
    states: list[ClientState]
    killed: list[int] = attrs.Factory(list)

    def clients(self) -> list[ClientState]:
        return self.states

    def kill(self, client_id: int) -> bool:
        self.killed.append(client_id)
        return True


async def test_client_list_info_and_kill(leader_client: Client) -> None:
    me = leader_client.ctx.client
    other = ClientState(id=me.id + 1000, addr="10.0.0.9:4000", name=b"worker")
    registry = FakeRegistry([me, other])
    leader_client.ctx.registry = registry
    listing = await leader_client.call("CLIENT", "LIST")
    assert isinstance(listing, bytes)
    lines = listing.decode().splitlines()
    assert len(lines) == 2 and f"id={me.id} " in lines[0] and "name=worker" in lines[1]
    assert "cmd=client" in lines[0] and "multi=-1" in lines[0]
    only = await leader_client.call("CLIENT", "LIST", "ID", other.id)
    assert isinstance(only, bytes) and only.count(b"\n") == 1 and b"name=worker" in only
    info = await leader_client.call("CLIENT", "INFO")
    assert isinstance(info, bytes) and info.startswith(f"id={me.id} ".encode())
    assert await leader_client.pipeline(
        [
            ("CLIENT", "KILL", "1.2.3.4:5"),
            ("CLIENT", "KILL", "ID", str(other.id)),
            ("CLIENT", "KILL", "ID", "0"),
            ("CLIENT", "KILL", "ADDR", "10.0.0.9:4000", "SKIPME", "no"),
            ("CLIENT", "KILL", "TYPE", "pubsub"),
            ("CLIENT", "KILL", "BOGUS", "1"),
            ("CLIENT", "KILL", "10.0.0.9:4000"),
        ]
    ) == [
        Err("ERR No such client"),
        1,
        Err("ERR client-id should be greater than 0"),
        1,
        0,
        Err("ERR syntax error"),
        b"OK",
    ]
    assert registry.killed == [other.id] * 3
    assert not me.closing
    assert await leader_client.call("CLIENT", "KILL", "ID", str(me.id), "SKIPME", "no") == 1
    assert me.closing  # closed after this reply


async def test_reset_clears_connection_state(leader_client: Client) -> None:
    ctx = leader_client.ctx
    await leader_client.call("CLIENT", "SETNAME", "n")
    await leader_client.call("WATCH", "k")
    assert await leader_client.call("RESET") == b"RESET"
    assert ctx.client.name == b"" and ctx.client.watched == {} and ctx.client.queued is None


async def test_config_accepts_the_encoding_parameters_with_no_effect(leader_client: Client) -> None:
    client = leader_client
    assert await client.call("CONFIG", "GET", "hash-max-*-entries") == [
        b"hash-max-listpack-entries", b"512", b"hash-max-ziplist-entries", b"512"
    ]  # fmt: skip
    try:
        assert await client.pipeline(
            [
                ("CONFIG", "SET", "hash-max-ziplist-entries", "16",
                 "zset-max-listpack-value", "1kb"),
                ("CONFIG", "SET", "list-max-listpack-size", "-5", "set-max-intset-entries", "0"),
                ("CONFIG", "GET", "hash-max-listpack-entries"),
                ("CONFIG", "GET", "zset-max-ziplist-value"),
                ("CONFIG", "GET", "list-max-ziplist-size"),
                ("CONFIG", "SET", "hash-max-listpack-entries", "-1"),
                ("CONFIG", "SET", "hash-max-listpack-value", "x"),
                ("CONFIG", "SET", "set-max-intset-entries", "1.5"),
                # Nothing is set when one parameter of several is refused.
                ("CONFIG", "SET", "zset-max-listpack-entries", "3", "maxclients", "1"),
                ("CONFIG", "GET", "zset-max-listpack-entries"),
            ]
        ) == [
            b"OK",
            b"OK",
            [b"hash-max-listpack-entries", b"16"],
            [b"zset-max-ziplist-value", b"1024"],
            [b"list-max-ziplist-size", b"-5"],
            Err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries')"
                " - argument must be between 0 and 9223372036854775807 inclusive"),
            Err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value')"
                " - argument must be a memory value"),
            Err("ERR CONFIG SET failed (possibly related to argument 'set-max-intset-entries')"
                " - argument couldn't be parsed into an integer"),
            Err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                "can't set immutable config"),
            [b"zset-max-listpack-entries", b"128"],
        ]  # fmt: skip
        # No effect: a hash of any size is stored the same way.
        await client.call("HSET", "h", *(str(i) for i in range(40)))
        assert await client.call("OBJECT", "ENCODING", "h") == b"hashtable"
    finally:
        await client.call(
            "CONFIG", "SET", "hash-max-listpack-entries", "512", "zset-max-listpack-value", "64",
            "list-max-listpack-size", "-2", "set-max-intset-entries", "512",
        )  # fmt: skip

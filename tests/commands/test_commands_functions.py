"""FUNCTION and FCALL on the in-process leader/follower pair, with Redis 7.0.15's replies
(the cases of tests/unit/functions.tcl, checked against redis-server by hand): libraries
as system-group state, FCALL as one replicated write (or a read for no-writes functions),
DUMP/RESTORE in Redis's payload format, and the library API's sandbox."""

from __future__ import annotations

import pytest
from replicas import Client, Replicas

from seshat_trio.protocol import ErrorReply
from seshat_trio.scripting import dump


def code(name: str, function: str, body: str, flags: str = "") -> str:
    if flags:
        return (
            f"#!lua name={name}\nredis.register_function{{function_name='{function}', "
            f"callback=function(KEYS, ARGV)\n {body} \nend, flags={{{flags}}}}}"
        )
    return (
        f"#!lua name={name}\nredis.register_function('{function}', function(KEYS, ARGV)\n"
        f" {body} \nend)"
    )


def listing(name: str, *functions: tuple[str, object, list[bytes]]) -> list[object]:
    return [
        [
            b"library_name", name.encode(), b"engine", b"LUA", b"functions",
            [[b"name", f.encode(), b"description", d, b"flags", fl] for f, d, fl in functions],
        ]
    ]  # fmt: skip


async def test_load_call_replace_delete(client: Client) -> None:
    assert await client.call("function", "load", code("test", "test", "return 'hello'")) == b"test"
    assert await client.call("fcall", "test", 0) == b"hello"
    assert await client.call("fcall", "TEST", 0) == b"hello"  # case-insensitive
    again = await client.call("function", "load", code("test", "test", "return 'hello1'"))
    assert again == ErrorReply("ERR Library 'test' already exists")
    bad = await client.call("function", "load", "replace", code("test", "test", "bad script"))
    assert isinstance(bad, ErrorReply) and "Error compiling function" in bad.text
    assert await client.call("fcall", "test", 0) == b"hello"  # a failed REPLACE keeps it
    replaced = await client.call("function", "load", "REPLACE", code("test", "test", "return 2"))
    assert replaced == b"test"
    assert await client.call("fcall", "test", 0) == 2
    assert await client.call("function", "delete", "test") == b"OK"
    assert await client.call("fcall", "test", 0) == ErrorReply("ERR Function not found")
    assert await client.call("function", "delete", "test") == ErrorReply("ERR Library not found")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["foo", "bar", code("t", "t", "return 1")], "ERR Unknown option given: foo"),
        ([code("bad\\0name", "t", "return 1")], "ERR Library names can only contain"),
        ([code("t", "t", "return 1").replace("#!lua", "#!bad_engine")],
         "ERR Engine 'bad_engine' not found"),
        (["#! name=test\nredis.register_function('foo', function() return 1 end)"],
         "ERR Engine '' not found"),
        (["#!lua name=test foo=bar\nx"], "ERR Invalid metadata value given: foo=bar"),
        (["#!lua\nx"], "ERR Library name was not given"),
        (["#!lua name=foo name=bar\nx"],
         "ERR Invalid metadata value, name argument was given multiple times"),
        (["replace"], "ERR Missing library metadata"),
        (["#!lua name=lib\nreturn 1"], "ERR No functions registered"),
        (["#!lua name=lib\nlocal a = 1 while 1 do a = a + 1 end"],
         "ERR Error registering functions: ERR FUNCTION LOAD timeout"),
        (["#!lua name=lib\na = 1"],
         "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly"),
        (["#!lua name=lib\nreturn math.random()"],
         "ERR Error registering functions: ERR user_function:2: Script attempted to access "
         "nonexistent global variable 'math'"),
        (["#!lua name=lib\nreturn redis.call('ping')"],
         "ERR Error registering functions: ERR user_function:2: Script attempted to access "
         "nonexistent global variable 'call'"),
        (["#!lua name=lib\nredis.register_function('f1')"],
         "ERR Error registering functions: ERR calling redis.register_function with a single "
         "argument is only applicable to Lua table (representing named arguments)."),
        (["#!lua name=lib\nredis.register_function('a', function() end)\n"
          "redis.register_function('a', function() end)"],
         "ERR Error registering functions: ERR Function already exists in the library"),
        (["#!lua name=lib\nredis.register_function{function_name='f', "
          "callback=function() end, flags={'unknown'}}"],
         "ERR Error registering functions: ERR unknown flag given"),
    ],
)  # fmt: skip
async def test_load_errors(client: Client, args: list[str], error: str) -> None:
    reply = await client.call("function", "load", *args)
    assert isinstance(reply, ErrorReply) and reply.text.startswith(error), reply
    assert await client.call("function", "list") == []


async def test_function_names_collide_across_libraries(client: Client) -> None:
    lib1 = "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)"
    assert await client.call("function", "load", lib1) == b"lib1"
    lib2 = "#!lua name=lib2\nredis.register_function('F1', function() return 2 end)"
    reply = await client.call("function", "load", lib2)
    assert reply == ErrorReply("ERR Function F1 already exists")
    engines = [b"LUA", [b"libraries_count", 1, b"functions_count", 1]]
    assert await client.call("function", "stats") == [b"running_script", None, b"engines", engines]


async def test_list_with_code_pattern_and_flags(client: Client) -> None:
    lib = (
        "#!lua name=library1\n"
        "redis.register_function{function_name='f6', callback=function() return 7 end, "
        "description='some desc', flags={'allow-stale', 'no-writes'}}"
    )
    await client.call("function", "load", lib)
    await client.call("function", "load", code("lib1", "f7", "return 7"))
    expected = listing("library1", ("f6", b"some desc", [b"no-writes", b"allow-stale"]))
    assert await client.call("function", "list", "libraryname", "library*") == expected
    with_code = await client.call("function", "list", "withcode", "libraryname", "library*")
    assert with_code == [expected[0] + [b"library_code", lib.encode()]]  # type: ignore[operator]
    assert len(await client.call("function", "list")) == 2  # type: ignore[arg-type]
    for args, error in [
        (["bad_argument"], "ERR Unknown argument bad_argument"),
        (["libraryname"], "ERR library name argument was not given"),
        (["withcode", "withcode"], "ERR Unknown argument withcode"),
        (["withcode", "libraryname", "foo", "libraryname", "foo"],
         "ERR Unknown argument libraryname"),
    ]:  # fmt: skip
        assert await client.call("function", "list", *args) == ErrorReply(error)


async def test_fcall_writes_on_every_node(replicas: Replicas, client: Client) -> None:
    lib = code("test", "test", "return redis.call('set', KEYS[1], ARGV[1])")
    await client.call("function", "load", lib)
    assert await client.call("fcall", "test", 1, "x", "foo") == b"OK"
    for node in replicas.nodes:
        stored = node.get(b"x")
        assert stored is not None and stored.data == b"foo"
    assert await client.call("fcall", "test", "bad_arg") == ErrorReply(
        "ERR Bad number of keys provided"
    )
    assert await client.call("fcall", "test", 10, "key1") == ErrorReply(
        "ERR Number of keys can't be greater than number of args"
    )
    assert await client.call("fcall", "test", -1, "key1") == ErrorReply(
        "ERR Number of keys can't be negative"
    )
    assert await client.call("fcall", "nosuch", "x") == ErrorReply("ERR Function not found")
    assert await client.call("fcall_ro", "test", 0) == ErrorReply(
        "ERR Can not execute a script with write flag using *_ro command."
    )


async def test_no_writes_functions_are_reads(replicas: Replicas, client: Client) -> None:
    await client.call("set", "x", "1")
    index = replicas.index
    lib = code("test", "test", "return redis.call('get', 'x')", flags="'no-writes'")
    await client.call("function", "load", "replace", lib)
    assert await client.call("fcall_ro", "test", 0) == b"1"
    assert await client.call("fcall", "test", 0) == b"1"
    assert replicas.index == index  # no log entry
    writer = code("test", "test", "return redis.call('set', 'x', '1')", flags="'no-writes'")
    await client.call("function", "load", "replace", writer)
    reply = await client.call("fcall", "test", 0)
    assert isinstance(reply, ErrorReply)
    assert reply.text.startswith("ERR Write commands are not allowed from read-only scripts")


async def test_function_errors_name_the_function(client: Client) -> None:
    lib = (
        "#!lua name=lib2\n"
        "redis.register_function('f1', function(k, a) return redis.call('nosuch') end)\n"
        "redis.register_function('f3', function(k, a) error('boom') end)\n"
        "local lib = redis\n"
        "redis.register_function('f6', function(k, a) lib.register_function('z', "
        "function() end) end)\n"
        "redis.register_function('f7', function(k, a) lib.redis = redis end)\n"
        "redis.register_function('f8', function(k, a) return {KEYS, ARGV} end)\n"
        "redis.register_function('f9', function(k, a) redis.register_function('z', "
        "function() end) end)\n"
    )
    await client.call("function", "load", lib)
    expected = {
        "f1": "ERR Unknown Redis command called from script script: f1, on @user_function:2.",
        "f3": "ERR user_function:3: boom script: f3, on @user_function:3.",
        "f6": "ERR redis.register_function can only be called on FUNCTION LOAD command "
        "script: f6, on @user_function:5.",
        "f7": "ERR user_function:6: Attempt to modify a readonly table script: f7, on "
        "@user_function:6.",
        "f8": "ERR user_function:7: Script attempted to access nonexistent global variable "
        "'KEYS' script: f8, on @user_function:7.",
        "f9": "ERR user_function:8: attempt to call field 'register_function' (a nil value) "
        "script: f9, on @user_function:8.",
    }
    for name, error in expected.items():
        assert await client.call("fcall", name, 0) == ErrorReply(error)


async def test_dump_and_restore(client: Client) -> None:
    await client.call("function", "load", code("test", "test", "return 'hello'"))
    payload = await client.call("function", "dump")
    assert isinstance(payload, bytes) and dump.verify(payload)
    assert await client.call("function", "delete", "test") == b"OK"
    assert await client.call("function", "restore", payload) == b"OK"
    assert await client.call("fcall", "test", 0) == b"hello"
    # APPEND (the default) refuses a library that exists; REPLACE replaces it.
    await client.call("function", "load", "replace", code("test", "test", "return 'hello1'"))
    reply = await client.call("function", "restore", payload, "APPEND")
    assert reply == ErrorReply("ERR Library test already exists")
    assert await client.call("function", "restore", payload, "replace") == b"OK"
    assert await client.call("fcall", "test", 0) == b"hello"
    await client.call("function", "load", code("other", "f2", "return 2"))
    assert await client.call("function", "restore", payload, "FLUSH") == b"OK"
    assert await client.call("function", "list") == listing("test", ("test", None, []))
    for args, error in [
        (["bad_payload"], "ERR DUMP payload version or checksum are wrong"),
        ([payload, "wrong"],
         "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
        (["a1", "a2", "a3"],
         "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP."),
        ([dump.dump([b"not a library"])], "ERR Missing library metadata"),
    ]:  # fmt: skip
        assert await client.call("function", "restore", *args) == ErrorReply(error)
    assert await client.call("fcall", "test", 0) == b"hello"


async def test_restore_with_function_name_collision(client: Client) -> None:
    lib1 = "#!lua name=lib1\n" + "\n".join(
        f"redis.register_function('f{i}', function() return {i + 1} end)" for i in (1, 2, 3)
    )
    await client.call("function", "load", lib1)
    payload = await client.call("function", "dump")
    await client.call("function", "flush")
    await client.call("function", "load", code("lib1", "f6", "return 7"))
    await client.call("function", "load", code("lib2", "f3", "return 4"))
    assert await client.call("function", "restore", payload) == ErrorReply(
        "ERR Library lib1 already exists"
    )
    assert await client.call("function", "restore", payload, "replace") == ErrorReply(
        "ERR Function f3 already exists"
    )
    assert await client.call("fcall", "f6", 0) == 7


async def test_flush_and_subcommand_errors(client: Client) -> None:
    await client.call("function", "load", code("test", "test", "return 1"))
    assert await client.call("function", "flush", "async") == b"OK"
    assert await client.call("function", "list") == []
    assert await client.call("function", "flush", "bad_arg") == ErrorReply(
        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    )
    assert await client.call("function", "flush", "sync", "extra") == ErrorReply(
        "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP."
    )
    assert await client.call("function", "kill") == ErrorReply(
        "NOTBUSY No scripts in execution right now."
    )
    reply = await client.call("function", "bad_subcommand")
    assert isinstance(reply, ErrorReply) and "unknown subcommand" in reply.text


async def test_eval_shebang(client: Client) -> None:
    assert await client.call("eval", "#!lua\nreturn 1", 0) == 1
    for body, error in [
        ("#!not-lua\nreturn 1", "ERR Unexpected engine in script shebang: #!not-lua"),
        ("#!lua badger=data\nreturn 1", "ERR Unknown lua shebang option: badger=data"),
        ("#!lua flags=allow-oom,what?\nreturn 1", "ERR Unexpected flag in script shebang: what?"),
    ]:
        assert await client.call("eval", body, 0) == ErrorReply(error)
    reply = await client.call("eval", "#!lua flags=no-writes\nredis.call('set','x',1)", 1, "x")
    assert isinstance(reply, ErrorReply)
    assert reply.text.startswith("ERR Write commands are not allowed from read-only scripts")
    assert await client.call("eval_ro", "#!lua flags=no-writes\nreturn 1", 1, "x") == 1
    assert await client.call("eval_ro", "#!lua\nreturn 1", 1, "x") == ErrorReply(
        "ERR Can not execute a script with write flag using *_ro command."
    )
    # The shebang line is skipped but its newline kept: errors name the script's line.
    reply = await client.call("eval", "#!lua\nreturn nil + 1", 0)
    assert isinstance(reply, ErrorReply) and "on @user_script:2." in reply.text

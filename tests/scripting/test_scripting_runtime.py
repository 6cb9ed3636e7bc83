"""The Lua sandbox and the redis.* API, against Redis 7.0.15's replies (checked by hand with
redis-server): conversions both ways, error texts with the script's SHA and line, the
read-only globals, the libraries, deterministic random numbers and the instruction budget
that pcall cannot escape."""

from __future__ import annotations

import pytest

from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.scripting.luabit import FUNCTIONS as BIT
from seshat_trio.scripting.runtime import ScriptRuntime, sha1hex

CALLS: list[list[bytes]] = []
NOT_INTEGER = "ERR value is not an integer or out of range"
MISSING = "ERR user_script:1: Script attempted to access nonexistent global variable"


def execute(argv: list[bytes]) -> Reply:
    CALLS.append(argv)
    name = argv[0].lower()
    if name == b"incr":
        return ErrorReply("ERR value is not an integer or out of range")
    if name == b"hgetall":
        return {b"f": b"v"}
    if name == b"get":
        return None
    return SimpleString("OK")


@pytest.fixture(scope="module")
def lua() -> ScriptRuntime:
    return ScriptRuntime()


def run(lua: ScriptRuntime, body: str, keys: tuple[str, ...] = ("k",), limit: int = 10**7) -> Reply:
    sha = lua.load(body.encode())
    return lua.call(sha, [k.encode() for k in keys], [b"a1", b"a2"], execute, limit)


def where(body: str) -> str:
    return f" script: {sha1hex(body.encode())}, on @user_script:1."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return 3.99", 3),
        ("return true", 1),
        ("return false", None),
        ("return {1, 2, {3, 'x'}, nil, 4}", [1, 2, [3, b"x"]]),
        ("return {ok = 'fine'}", SimpleString("fine")),
        ("return {err = 'MYERR bad'}", ErrorReply("MYERR bad")),
        ("return redis.error_reply('E1 x')", ErrorReply("E1 x")),
        ("return redis.error_reply('noprefix')", ErrorReply("ERR noprefix")),
        ("return redis.status_reply('ST')", SimpleString("ST")),
        ("return redis.sha1hex('')", b"da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("return KEYS[1] .. ARGV[2]", b"ka2"),
        ("return redis.pcall('incr', KEYS[1])", ErrorReply(NOT_INTEGER)),
        ("local ok, e = pcall(redis.call, 'incr', 'k') return {tostring(ok), e.err}",
         [b"false", NOT_INTEGER.encode()]),
        ("return redis.call('hgetall', 'h')", [b"f", b"v"]),
        ("return redis.call('get', 'nokey')", None),
        ("return tostring(redis.call('get', 'nokey'))", b"false"),
        ("redis.setresp(3) return tostring(redis.call('get', 'nokey'))", b"nil"),
        ("redis.setresp(3) return redis.call('hgetall', 'h').map.f", b"v"),
        ("return redis.REDIS_VERSION", b"7.0.0"),
        # Redis's rand48 from its initial state (a fresh redis-server: 40, then 85).
        ("return {math.random(100), math.random(100), math.random(1, 6)}", [40, 85, 3]),
        ("return cjson.encode({1, 2, {a = 1}})", b'[1,2,{"a":1}]'),
        ("return cjson.encode({})", b"{}"),
        ("return cjson.encode({'a/b'})", b'["a\\/b"]'),
        ("return cjson.decode('[1,2,null,{\"a\":true}]')[4].a", 1),
        ("return cjson.decode('[null]')[1] == cjson.null and 1 or 0", 1),
        ("return bit.tohex(bit.band(0xff, 0x0f))", b"0000000f"),
        ("return loadstring('return 5')()", 5),
        ("redis.log(redis.LOG_WARNING, 'from a script') return 1", 1),
    ],
)  # fmt: skip
def test_replies(lua: ScriptRuntime, body: str, expected: Reply) -> None:
    assert run(lua, body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return x", f"{MISSING} 'x'"),
        ("return os.time()", f"{MISSING} 'os'"),
        ("x = 1", "ERR user_script:1: Attempt to modify a readonly table"),
        ("string.upper = nil", "ERR user_script:1: Attempt to modify a readonly table"),
        ("loadstring('y = 1')()", "ERR user_script:1: Attempt to modify a readonly table"),
        ("error('boom')", "ERR user_script:1: boom"),
        ("error({err = 'MY x'})", "MY x"),
        ("return redis.call('incr', KEYS[1])", NOT_INTEGER),
        ("return redis.call('set', KEYS[1], {})",
         "ERR Lua redis lib command arguments must be strings or integers"),
        ("return redis.call()",
         "ERR Please specify at least one argument for this redis lib call"),
        ("return cjson.decode('nope')",
         "ERR Expected value but found invalid token at character 1"),
    ],
)  # fmt: skip
def test_errors_name_the_script_and_line(lua: ScriptRuntime, body: str, message: str) -> None:
    assert run(lua, body) == ErrorReply(message + where(body))


def test_numbers_become_arguments_as_redis_prints_them(lua: ScriptRuntime) -> None:
    CALLS.clear()
    run(lua, "redis.call('set', 'k', 1.5) redis.call('set', 'k', 3) return 1")
    assert CALLS == [[b"set", b"k", b"1.5"], [b"set", b"k", b"3"]]


def test_compile_errors(lua: ScriptRuntime) -> None:
    with pytest.raises(Exception, match=r"Error compiling script .*unexpected symbol near '\+'"):
        lua.load(b"return +")


@pytest.mark.parametrize(
    "body",
    [
        "local i = 0 while true do i = i + 1 end",
        "local ok = pcall(function() while true do end end) while true do end",
        "while true do pcall(error) end",
        "while true do redis.call('set', 'k', 'v') end",
    ],
)
def test_the_instruction_budget_stops_any_loop_the_same_way(lua: ScriptRuntime, body: str) -> None:
    CALLS.clear()
    first = run(lua, body, limit=2_000_000)
    calls = len(CALLS)
    assert first == ErrorReply(
        "ERR Script exceeded the instruction limit of 2000000 and was aborted" + where(body)
    )
    CALLS.clear()
    assert run(lua, body, limit=2_000_000) == first
    assert len(CALLS) == calls  # the same number of commands ran: deterministic


def test_nothing_a_script_does_outlives_it(lua: ScriptRuntime) -> None:
    assert run(lua, "rawset(_G, 'leak', 1) return leak") == 1
    body = "return leak"
    assert run(lua, body) == ErrorReply(
        "ERR user_script:1: Script attempted to access nonexistent global variable 'leak'"
        + where(body)
    )


def test_bit_matches_luabitop() -> None:
    # Values from redis-server 7.0.15.
    assert BIT[b"tohex"](-1) == b"ffffffff"
    assert BIT[b"tohex"](255, -4) == b"00FF"
    assert BIT[b"bnot"](0) == -1
    assert BIT[b"lshift"](1, 31) == -2147483648
    assert BIT[b"rshift"](-1, 28) == 15
    assert BIT[b"arshift"](-256, 4) == -16
    assert BIT[b"rol"](0x12345678, 12) == 1164411171
    assert BIT[b"ror"](0x12345678, 12) == 1736516421
    assert BIT[b"bswap"](0x12345678) == 2018915346
    assert BIT[b"tobit"](2**32 + 5) == 5

# ruff: noqa: E501  (the scripts and replies as recorded)
"""The cmsgpack and struct libraries against redis-server 7.0.15's replies for the same
scripts (recorded from the server; scripting.tcl's cmsgpack cases among them): encodings
byte for byte, round trips, offsets and error texts."""

from __future__ import annotations

import pytest

from seshat_trio.protocol import ErrorReply, Reply
from seshat_trio.scripting.runtime import ScriptRuntime, sha1hex


def execute(argv: list[bytes]) -> Reply:
    return None


@pytest.fixture(scope="module")
def lua() -> ScriptRuntime:
    return ScriptRuntime()


CASES = [
    (
        "local e = cmsgpack.pack(0.1) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h",
        b"cb3fb999999999999a",
    ),
    (
        "local e = cmsgpack.pack(-1099511627776) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end return h",
        b"d3ffffff0000000000",
    ),
    (
        "local a = {x=nil,y=5} local b = {x=a} a['x'] = b local e = cmsgpack.pack(a) local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end local re = cmsgpack.unpack(e) return {h, re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5}",
        [
            b"82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0",
            1,
            1,
        ],
    ),
    (
        "return cmsgpack.pack(1.5, 2^40, -1, -120, -32000, -100000, -3147483648, 250, 65530, 100000, true, false, nil, 1e300, 1/0)",
        b"\xca?\xc0\x00\x00\xcf\x00\x00\x01\x00\x00\x00\x00\x00\xff\xd0\x88\xd1\x83\x00\xd2\xff\xfey`\xd3\xff\xff\xff\xffDe6\x00\xcc\xfa\xcd\xff\xfa\xce\x00\x01\x86\xa0\xc3\xc2\xc0\xcb~7\xe4<\x88\x00u\x9c\xca\x7f\x80\x00\x00",
    ),
    (
        "return cmsgpack.pack({1,2,3}, {a=1}, string.rep('x', 40), string.rep('y', 300), {[1]=1,[3]=3}, {})",
        b"\x93\x01\x02\x03\x81\xa1a\x01\xd9(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xda\x01,yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\x82\x01\x01\x03\x03\x90",
    ),
    (
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {k='v'}, -5, 3.25))}",
        [1, b"a", [1, 2], [], -5, 3],
    ),
    ("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2, 0)}", [2, 1, 2]),
    ("local o, v = cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2) return {o, v}", [-1, 3]),
    (
        "return {struct.unpack('<!4bihd', struct.pack('<!4bihd', -1, -2, -3, 4.5))}",
        [-1, -2, -3, 4, 21],
    ),
    (
        "return struct.pack('>!4 b i h d c0 s', 1, 2, 3, 4.5, 'abc', 'de')",
        b"\x01\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00\x00@\x12\x00\x00\x00\x00\x00\x00abcde\x00",
    ),
    ("return {struct.unpack('bc0', struct.pack('bc0', 3, 'xyz'))}", [b"xyz", 5]),
    ("return {struct.size('!8bd'), struct.size('>i3c5')}", [16, 8]),
    ("return {struct.unpack('>I2', 'ab')}", [24930, 3]),
    ("return {struct.unpack('s', 'ab\\0cd', 1)}", [b"ab", 4]),
    (
        "return struct.pack('<i16', -1)",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00",
    ),
    (
        "return struct.pack('q', 1)",
        ("error", "ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'q')"),
    ),
    ("return cmsgpack.unpack('\\217')", ("error", "ERR user_script:1: Missing bytes in input.")),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_libraries_answer_as_redis(lua: ScriptRuntime, body: str, expected: object) -> None:
    sha = lua.load(body.encode())
    reply = lua.call(sha, [], [], execute)
    if isinstance(expected, tuple):
        where = f" script: {sha1hex(body.encode())}, on @user_script:1."
        assert reply == ErrorReply(expected[1] + where)
    else:
        assert reply == expected


def test_round_trips(lua: ScriptRuntime) -> None:
    body = """
    local big = {}
    for i = 1, 100000 do big[i] = i end
    local map = {}
    for i = 1, 1000 do map[tostring(i)] = i end
    local value = {s1 = string.rep('x', 30), s2 = string.rep('x', 250),
      s3 = string.rep('x', 65530), s4 = string.rep('x', 100000), d1 = 0.1, i5 = 2^40,
      i10 = -3147483648, a3 = big, m2 = map, b1 = false, b2 = true}
    local decoded = cmsgpack.unpack(cmsgpack.pack(value))
    assert(decoded.s4 == value.s4 and decoded.d1 == 0.1 and decoded.i10 == -3147483648)
    assert(#decoded.a3 == 100000 and decoded.m2['1000'] == 1000 and decoded.b1 == false)
    local packed = cmsgpack.pack('a', string.rep('b', 300), 7)
    local offset, one = cmsgpack.unpack_limit(packed, 1, 0)
    local offset2, two = cmsgpack.unpack_one(packed, offset)
    local offset3, three = cmsgpack.unpack_one(packed, offset2)
    assert(one == 'a' and #two == 300 and three == 7 and offset3 == -1)
    local fmt = '<!8 b B h H l L i3 I5 f d c2 s'
    local s = struct.pack(fmt, -1, 255, -300, 65000, -2^40, 2^40, -70000, 2^33, 1.5, 0.1, 'xy', 'z')
    local r = {struct.unpack(fmt, s)}
    assert(r[1] == -1 and r[2] == 255 and r[3] == -300 and r[4] == 65000 and r[5] == -2^40)
    assert(r[6] == 2^40 and r[7] == -70000 and r[8] == 2^33 and r[9] == 1.5 and r[10] == 0.1)
    assert(r[11] == 'xy' and r[12] == 'z' and r[13] == #s + 1)
    return 'ok'
    """
    assert lua.call(lua.load(body.encode()), [], [], execute) == b"ok"


def test_the_libraries_are_read_only(lua: ScriptRuntime) -> None:
    for body in ("cmsgpack.pack = function() return 1 end", "struct.pack = nil"):
        reply = lua.call(lua.load(body.encode()), [], [], execute)
        assert isinstance(reply, ErrorReply) and "Attempt to modify a readonly table" in reply.text

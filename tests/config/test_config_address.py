"""Address and member-list parsing."""

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.config import Address, Member, parse_members


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:7379", "127.0.0.1", 7379),
        ("localhost:0", "localhost", 0),
        (" node-1.example:65535 ", "node-1.example", 65535),
        ("[::1]:6379", "::1", 6379),
    ],
)
def test_parse_valid(text: str, host: str, port: int) -> None:
    assert Address.parse(text) == Address(host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "invalid address '127.0.0.1': expected host:port"),
        (":6379", "invalid address ':6379': expected host:port"),
        ("host:", "invalid address 'host:': port '' is not a number"),
        ("host:abc", "invalid address 'host:abc': port 'abc' is not a number"),
        ("host:-1", "invalid address 'host:-1': port '-1' is not a number"),
        ("host:65536", "invalid address 'host:65536': port 65536 out of range 0-65535"),
        ("a b:1", "invalid address 'a b:1': bad host 'a b'"),
        ("[::1:80", "invalid address '[::1:80': bad host '[::1'"),
        ("[]:80", "invalid address '[]:80': bad host ''"),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Address.parse(text)


def test_str_brackets_ipv6_only() -> None:
    assert str(Address("::1", 7379)) == "[::1]:7379"
    assert str(Address("127.0.0.1", 7379)) == "127.0.0.1:7379"
    assert str(Member(2, Address("127.0.0.1", 7380))) == "2=127.0.0.1:7380"


hosts = st.one_of(
    st.ip_addresses().map(str),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True),
)


@given(host=hosts, port=st.integers(0, 65535))
def test_str_parse_round_trip(host: str, port: int) -> None:
    address = Address(host, port)
    assert Address.parse(str(address)) == address
    if ":" in host:
        assert ipaddress.ip_address(host).version == 6


MEMBERS = (Member(1, Address("127.0.0.1", 7379)), Member(2, Address("127.0.0.1", 7380)))


@pytest.mark.parametrize(
    "value",
    [
        "1=127.0.0.1:7379,2=127.0.0.1:7380",
        " 1=127.0.0.1:7379 , 2=127.0.0.1:7380 ,",
        {"1": "127.0.0.1:7379", "2": "127.0.0.1:7380"},
        ["1=127.0.0.1:7379", "2=127.0.0.1:7380"],
        [{"id": 1, "address": "127.0.0.1:7379"}, {"id": 2, "address": "127.0.0.1:7380"}],
    ],
)
def test_members_every_spelling(value: object) -> None:
    assert parse_members(value) == MEMBERS


def test_members_empty_and_duplicates_kept() -> None:
    assert parse_members("") == ()
    assert parse_members([]) == ()
    # Validation reports duplicates; parsing must not hide them.
    assert parse_members("1=h:1,1=h:1") == (Member(1, Address("h", 1)),) * 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "member '1': expected id=host:port"),
        ("x=h:1", "member 'x=h:1': id 'x' is not an integer"),
        ("0x1=h:1", "member '0x1=h:1': id '0x1' is not an integer"),
        ("1=h", "member '1=h': invalid address 'h': expected host:port"),
        ([{"id": 1}], "member {'id': 1}: expected {id = N, address = 'host:port'}"),
        ([{"id": True, "address": "h:1"}], "member 'True=h:1': id True is not an integer"),
        ([{"id": 1, "address": 5}], "member '1=5': expected host:port, got 5"),
        (5, "expected members as id=host:port,..., got 5"),
    ],
)
def test_members_invalid(value: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        parse_members(value)
    assert str(info.value) == message


def test_members_reports_every_bad_entry() -> None:
    with pytest.raises(ExceptionGroup) as info:
        parse_members("x=h:1,2=h:99999,3=h:3")
    assert [str(e) for e in info.value.exceptions] == [
        "member 'x=h:1': id 'x' is not an integer",
        "member '2=h:99999': invalid address 'h:99999': port 99999 out of range 0-65535",
    ]

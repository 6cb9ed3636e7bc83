"""ACL SETUSER rules: parsed, applied and described as Redis 7 does (replies recorded from
redis-server 7.0.15; command rules are described as given, as Redis 7.2 does)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seshat_trio.acl.permissions import check_command_rule
from seshat_trio.acl.rules import (
    DEFAULT_USER,
    AclRuleError,
    AclSyntaxError,
    User,
    apply_rules,
    hash_password,
    merge_selector_args,
    new_user,
    user_from_json,
    user_to_json,
)
from seshat_trio.commands.dispatch import execute  # noqa: F401  (registers every command)
from seshat_trio.commands.permissions import catalog

PW_HASH = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"  # sha256("pw")


def setuser(*rules: str, user: User | None = None) -> User:
    table = catalog()
    args = merge_selector_args([r.encode() for r in rules])
    return apply_rules(user or new_user(b"bob"), args, lambda rule: check_command_rule(rule, table))


def listed(*rules: str) -> str:
    return setuser(*rules).describe().decode()


def error(*rules: str) -> str:
    with pytest.raises((AclRuleError, AclSyntaxError)) as caught:
        setuser(*rules)
    return caught.value.message


def test_the_default_user_and_a_new_one() -> None:
    assert DEFAULT_USER.describe() == b"user default on nopass ~* &* +@all"
    assert new_user(b"bob").describe() == b"user bob off resetchannels -@all"


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (("~",), "user bob off ~ resetchannels -@all"),
        (("%RW~a:*", "%R~b", "%W~c"), "user bob off ~a:* %R~b %W~c resetchannels -@all"),
        (("%R",), "user bob off %R~ resetchannels -@all"),
        (("%RW~*",), "user bob off ~* resetchannels -@all"),
        (("%r~x",), "user bob off %R~x resetchannels -@all"),
        (("%WR~y",), "user bob off ~y resetchannels -@all"),
        (("~x", "%W~x", "%R~x"), "user bob off ~x resetchannels -@all"),
        (("resetkeys", "%R~x", "~x"), "user bob off ~x resetchannels -@all"),
        (("~x", "~*"), "user bob off ~* resetchannels -@all"),
        (("%R~*", "~*"), "user bob off ~* resetchannels -@all"),
        (("&",), "user bob off resetchannels & -@all"),
        (("resetchannels", "&a"), "user bob off resetchannels &a -@all"),
        (("allkeys", "allchannels", "allcommands"), "user bob off ~* &* +@all"),
        (("+GET",), "user bob off resetchannels -@all +get"),
        (("+@READ",), "user bob off resetchannels -@all +@read"),
        (("ON",), "user bob on resetchannels -@all"),
        (("NOPASS",), "user bob off nopass resetchannels -@all"),
        ((">pw", ">pw"), f"user bob off #{PW_HASH} resetchannels -@all"),
        ((">p1", ">pw", "<p1"), f"user bob off #{PW_HASH} resetchannels -@all"),
        ((f"#{PW_HASH}", "nopass"), "user bob off nopass resetchannels -@all"),
        (("nopass", ">pw"), f"user bob off #{PW_HASH} resetchannels -@all"),
        (("on", "off"), "user bob off resetchannels -@all"),
        (("+@all", "-@all", "+get"), "user bob off resetchannels -@all +get"),
        (("-get", "+@all"), "user bob off resetchannels +@all"),
        (("+@all", "-flushall"), "user bob off resetchannels +@all -flushall"),
        (("+@all", "-config|get"), "user bob off resetchannels +@all -config|get"),
        (
            ("-@all", "+config", "-config|set"),
            "user bob off resetchannels -@all +config -config|set",
        ),
        (("+client|kill", "+client"), "user bob off resetchannels -@all +client"),
        (("+select|0", "+select|1", "-select"), "user bob off resetchannels -@all -select"),
        (("+select|0", "+select"), "user bob off resetchannels -@all +select"),
        (("+select|0", "+select|0"), "user bob off resetchannels -@all +select|0"),
        (("sanitize-payload",), "user bob off sanitize-payload resetchannels -@all"),
        (("skip-sanitize-payload",), "user bob off skip-sanitize-payload resetchannels -@all"),
        (("reset",), "user bob off sanitize-payload resetchannels -@all"),
        (("( ~x )",), "user bob off resetchannels -@all (~x resetchannels -@all)"),
        (("()",), "user bob off resetchannels -@all (resetchannels -@all)"),
        (
            ("(%R~x", "%W~y", "&c*", "+@read)"),
            "user bob off resetchannels -@all (%R~x %W~y resetchannels &c* -@all +@read)",
        ),
        (
            ("~*", "&*", "+@all", "(~x:*", "+get)", "(+set", "~y)"),
            "user bob off ~* &* +@all (~x:* resetchannels -@all +get) "
            "(~y resetchannels -@all +set)",
        ),
        (("(~x:* +get)", "clearselectors"), "user bob off resetchannels -@all"),
    ],
)
def test_rules_are_described_as_redis_lists_them(rules: tuple[str, ...], expected: str) -> None:
    assert listed(*rules) == expected


def modifier_error(rule: str, reason: str) -> str:
    return f"ERR Error in ACL SETUSER modifier '{rule}': {reason}"


UNKNOWN = "Unknown command or category name in ACL"
AFTER_ALLKEYS = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
)
AFTER_ALLCHANNELS = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
)
BAD_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters"
)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (("foo",), modifier_error("foo", "Syntax error")),
        (("+nosuch",), modifier_error("+nosuch", UNKNOWN)),
        (("+@nosuch",), modifier_error("+@nosuch", UNKNOWN)),
        (("+", ), modifier_error("+", UNKNOWN)),
        (("-",), modifier_error("-", UNKNOWN)),
        (("+@",), modifier_error("+@", UNKNOWN)),
        (("+config|nosuch",), modifier_error("+config|nosuch", UNKNOWN)),
        (("-select|0",), modifier_error("-select|0", UNKNOWN)),
        (("+config|get|x",), modifier_error("+config|get|x", "Allowing first-arg of a "
                                            "subcommand is not supported")),
        (("%X~a",), modifier_error("%X~a", "Syntax error")),
        (("%~x",), modifier_error("%~x", "Syntax error")),
        (("%RR~x",), modifier_error("%RR~x", "Syntax error")),
        (("#abc",), modifier_error("#abc", BAD_HASH)),
        (("#",), modifier_error("#", BAD_HASH)),
        (("!abc",), modifier_error("!abc", BAD_HASH)),
        (("<nopw",), modifier_error("<nopw", "The password you are trying to remove from the "
                                    "user does not exist")),
        (("~*", "~x"), modifier_error("~x", AFTER_ALLKEYS)),
        (("allkeys", "%R~x"), modifier_error("%R~x", AFTER_ALLKEYS)),
        (("&*", "&x"), modifier_error("&x", AFTER_ALLCHANNELS)),
        (("(on)",), modifier_error("(on)", "Syntax error")),
        (("(>pw)",), modifier_error("(>pw)", "Syntax error")),
        (("(~x",), "ERR Unmatched parenthesis in acl selector starting at '(~x'."),
        (("(~x", "+get"), "ERR Unmatched parenthesis in acl selector starting at '(~x +get'."),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_with_redis_messages(rules: tuple[str, ...], message: str) -> None:
    assert error(*rules) == message


def test_a_refused_rule_leaves_the_user_unchanged() -> None:
    before = setuser("on", ">pw", "~a")
    with pytest.raises(AclRuleError):
        setuser("+get", "<other", user=before)
    assert before.describe() == f"user bob on #{PW_HASH} ~a resetchannels -@all".encode()


def test_passwords_are_stored_as_sha256_only() -> None:
    user = setuser("on", ">secret")
    assert user.passwords == (hash_password(b"secret"),)
    assert b"secret" not in user.describe()
    assert user.accepts(b"secret") and not user.accepts(b"Secret")
    assert not setuser("off", ">secret").accepts(b"secret")  # a user that is off cannot log in
    assert setuser("on", "nopass").accepts(b"anything")


# Arguments a client may give ACL SETUSER: keywords, patterns, passwords, command rules.
RULES = st.sampled_from(
    [
        "on", "off", "nopass", "resetpass", "reset", "allkeys", "resetkeys", "allchannels",
        "resetchannels", "allcommands", "nocommands", "+@all", "-@all", "+@read", "-@write",
        "-@dangerous", "+get", "-get", "+config", "-config|set", "+config|get", "+select|0",
        "+client", "-client|kill", "sanitize-payload", "skip-sanitize-payload", "clearselectors",
        ">p1", ">p2", "<p1", "~k:*", "%R~r:*", "%W~w:*", "~*", "&ch*", "&*", "(~s:* +get)",
        "(%R~x &y -@all +@read)",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(RULES, max_size=12))
def test_a_user_survives_storage_and_its_own_description(rules: list[str]) -> None:
    try:
        user = setuser(*rules)
    except AclRuleError:
        return  # e.g. removing a password that is not there
    assert user_from_json(user_to_json(user)) == user
    # ACL LIST lines are an aclfile: reading one back gives the same user.
    words = user.describe().split()[2:]
    assert apply_rules(new_user(b"bob"), merge_selector_args(words)) == user

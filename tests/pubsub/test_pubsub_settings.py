"""client-output-buffer-limit and notify-keyspace-events: Redis 7.0's syntax, texts and
formatting (checked against redis-server 7.0.15), and the soft/hard rule."""

from __future__ import annotations

import pytest

from seshat_trio.output_limits import (
    LimitWatch,
    OutputLimit,
    OutputLimitError,
    OutputLimits,
    parse_output_limits,
)
from seshat_trio.pubsub import notify
from seshat_trio.pubsub.replicated import SECTION, NotifyFollower, encode_notify_flags
from seshat_trio.system.registry import (
    OperationRefused,
    SystemState,
    apply_operation,
    decode_operation,
)
from seshat_trio.tunables import TunableError, Tunables

DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", DEFAULT),
        ("pubsub 1kb 2gb 5 replica 1 2 3", "normal 0 0 0 slave 1 2 3 pubsub 1024 2147483648 5"),
        ("PUBSUB 1KB 1MB 5", "normal 0 0 0 slave 268435456 67108864 60 pubsub 1024 1048576 5"),
        ("pubsub kb 1 1", "normal 0 0 0 slave 268435456 67108864 60 pubsub 0 1 1"),
        ("pubsub 1 1 +5", "normal 0 0 0 slave 268435456 67108864 60 pubsub 1 1 5"),
        (
            "normal 1k 1m 1 slave 1g 0 0",
            "normal 1000 1000000 1 slave 1000000000 0 0 pubsub 33554432 8388608 60",
        ),
    ],
)
def test_limits_parse_and_format_as_redis(text: str, expected: str) -> None:
    assert str(parse_output_limits(text)) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("master 1 2 3", "Invalid client class specified in buffer limit configuration."),
        ("nobody 1 2 3", "Invalid client class specified in buffer limit configuration."),
        ("pubsub 1 2", "Wrong number of arguments in buffer limit configuration."),
        ("pubsub 1x 2 3", "Error in hard, soft or soft_seconds setting in buffer limit "
                          "configuration."),
        ("pubsub -1 2 3", "Error in hard, soft or soft_seconds setting in buffer limit "
                          "configuration."),
        ("pubsub 1 2 -3", "Error in hard, soft or soft_seconds setting in buffer limit "
                          "configuration."),
        ("pubsub 1 2 3 normal 1.5mb 0 0", "Error in hard, soft or soft_seconds setting in "
                                          "buffer limit configuration."),
    ],
)  # fmt: skip
def test_refused_limits_change_nothing(text: str, error: str) -> None:
    tunables = Tunables()
    with pytest.raises(TunableError) as refused:
        tunables.set_all({"client-output-buffer-limit": text})
    assert refused.value.reason == error
    assert str(tunables.output_limits) == DEFAULT
    with pytest.raises(OutputLimitError):
        parse_output_limits(text)


def test_a_refused_setting_leaves_the_others_unchanged() -> None:
    tunables = Tunables()
    with pytest.raises(TunableError):
        tunables.set_all({"notify-keyspace-events": "KEA", "client-output-buffer-limit": "x"})
    assert tunables.get()["notify-keyspace-events"] == ""


@pytest.mark.parametrize(
    ("text", "shown"),
    [("KEA", "AKE"), ("Kx", "xK"), ("gKE", "gKE"), ("KEAmn", "AKEm"), ("x", "x"),
     ("$lshzxeKE", "$lshzxeKE"), ("", ""), ("En", "nE")],
)  # fmt: skip
def test_notify_flags_format_as_redis(text: str, shown: str) -> None:
    assert notify.format_flags(notify.parse_flags(text)) == shown


def test_notify_flags_refuse_unknown_letters() -> None:
    with pytest.raises(ValueError, match="Invalid event class character"):
        notify.parse_flags("KEq")


def test_keyspace_and_keyevent_channels() -> None:
    flags = notify.parse_flags("KE$")
    assert notify.wanted(flags, notify.STRING)
    assert not notify.wanted(flags, notify.GENERIC)
    assert not notify.wanted(notify.parse_flags("A"), notify.STRING)  # no K or E: nothing
    assert list(notify.messages(flags, b"set", b"k")) == [
        (b"__keyspace@0__:k", b"set"),
        (b"__keyevent@0__:set", b"k"),
    ]


def test_hard_limit_at_once_soft_limit_after_its_seconds() -> None:
    limit = OutputLimit(hard=100, soft=50, soft_seconds=2)
    watch = LimitWatch()
    assert watch.over(limit, 100, now=0.0)
    assert not watch.over(limit, 60, now=0.0)  # soft reached: the clock starts
    assert watch.soft_deadline(limit) == 2.0
    assert not watch.over(limit, 60, now=2.0)  # Redis: more than the seconds
    assert watch.over(limit, 60, now=2.5)
    watch = LimitWatch()
    assert not watch.over(limit, 60, now=0.0)
    assert not watch.over(limit, 10, now=1.0)  # back under: the clock resets
    assert not watch.over(limit, 60, now=2.5)
    assert not watch.over(OutputLimits().normal, 10**12, now=0.0)  # 0 0 0: unlimited


def test_notify_flags_are_cluster_state() -> None:
    tunables = Tunables()
    follower = NotifyFollower(tunables)
    state = SystemState()
    follower(state, state.names())
    assert tunables.notify_flags == 0  # no cluster value yet: the node's own setting holds
    state, changed, _ = apply_operation(state, decode_operation(encode_notify_flags("KEx")))
    follower(state, frozenset(changed))
    assert notify.format_flags(tunables.notify_flags) == "xKE"
    assert state.section(SECTION) == {"flags": "KEx"}
    with pytest.raises(OperationRefused, match="Invalid event class character"):
        apply_operation(state, decode_operation(encode_notify_flags("KEq")))

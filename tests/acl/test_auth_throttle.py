"""AuthThrottle: failed logins per client address, over a sliding window, bounded memory."""

from __future__ import annotations

import pytest

from seshat_trio.acl.throttle import AuthThrottle, client_host


def test_an_address_is_refused_after_its_failures_until_the_oldest_leaves_the_window() -> None:
    refused: list[int] = []
    throttle = AuthThrottle(3, 60.0, on_refused=lambda: refused.append(1))
    for t in (0.0, 10.0, 20.0):
        assert throttle.retry_after("10.0.0.1", t) is None
        throttle.failed("10.0.0.1", t)
    assert throttle.retry_after("10.0.0.1", 30.0) == pytest.approx(30.0)  # 0 + 60 - 30
    assert throttle.retry_after("10.0.0.2", 30.0) is None  # other addresses are not
    assert len(refused) == 1
    assert throttle.retry_after("10.0.0.1", 60.0) is None  # the failure at 0 left the window
    throttle.failed("10.0.0.1", 61.0)
    assert throttle.retry_after("10.0.0.1", 62.0) == pytest.approx(8.0)  # now 10 + 60 - 62


def test_zero_turns_it_off_and_exempt_addresses_are_never_limited() -> None:
    off = AuthThrottle(0, 60.0)
    local = AuthThrottle(1, 60.0, exempt=lambda address: address == "127.0.0.1")
    for t in range(100):
        off.failed("10.0.0.1", float(t))
        local.failed("127.0.0.1", float(t))
    assert off.retry_after("10.0.0.1", 100.0) is None
    assert local.retry_after("127.0.0.1", 100.0) is None


def test_tracked_addresses_are_bounded() -> None:
    throttle = AuthThrottle(1, 60.0, max_addresses=2)
    for i, address in enumerate(("a", "b", "c")):
        throttle.failed(address, float(i))
    assert throttle.retry_after("a", 3.0) is None  # forgotten: the least recently failed
    assert throttle.retry_after("b", 3.0) is not None
    assert throttle.retry_after("c", 3.0) is not None


def test_client_host() -> None:
    assert client_host("10.1.2.3:5000") == "10.1.2.3"
    assert client_host("::1:5000") == "::1"
    assert client_host("unix") == "unix"

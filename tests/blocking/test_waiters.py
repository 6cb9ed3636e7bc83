"""The node's registry of blocked clients (sans-IO): a change wakes the first waiter of each
key that holds a value, and a waiter leaving passes its turn on, so clients are served in
the order they blocked without a herd of attempts."""

from __future__ import annotations

from seshat_trio.blocking.waiters import Waiter, Waiters
from seshat_trio.storage import StoredValue

LIST = StoredValue(1, b"", 0, version=7)


def woken(*waiters: Waiter) -> list[bool]:
    return [w.woken for w in waiters]


def test_a_change_wakes_only_the_first_waiter_of_a_key_that_holds_a_value() -> None:
    registry = Waiters()
    first, second, other = Waiter([b"q"]), Waiter([b"q"]), Waiter([b"r", b"q"])
    for waiter in (first, second, other):
        registry.add(waiter)
    assert len(registry) == 3
    registry.keys_changed({b"q": None, b"r": None})  # deleted: nothing to pop
    assert woken(first, second, other) == [False, False, False]
    calls: list[str] = []
    first.on_wake = lambda: calls.append("first")
    registry.keys_changed({b"q": LIST, b"x": LIST})
    assert woken(first, second, other) == [True, False, False] and calls == ["first"]
    registry.keys_changed({b"r": LIST})
    assert woken(first, second, other) == [True, False, True]


def test_a_served_waiter_passes_the_turn_on_every_key_it_waited_on() -> None:
    registry = Waiters()
    a, b, c = Waiter([b"q", b"r"]), Waiter([b"q"]), Waiter([b"r"])
    for waiter in (a, b, c):
        registry.add(waiter)
    registry.served(a)
    assert woken(b, c) == [True, True] and len(registry) == 2


def test_leaving_passes_the_turn_only_if_it_had_one() -> None:
    registry = Waiters()
    a, b, c = Waiter([b"q"]), Waiter([b"q"]), Waiter([b"q"])
    for waiter in (a, b, c):
        registry.add(waiter)
    registry.remove(b)  # not first, not woken
    registry.remove(a)  # first, but never woken: a timeout with nothing to pass on
    assert woken(c) == [False]
    d = Waiter([b"q"])
    registry.add(d)
    registry.keys_changed({b"q": LIST})
    assert woken(c, d) == [True, False]
    registry.remove(c)  # woken, then timed out before looking: d gets the turn
    assert woken(d) == [True] and len(registry) == 1
    registry.remove(d)
    assert len(registry) == 0
    registry.keys_changed({b"q": LIST})  # no waiters: nothing to do


def test_a_replaced_state_wakes_every_first_waiter() -> None:
    registry = Waiters()
    a, b, c = Waiter([b"q"]), Waiter([b"q"]), Waiter([b"r", b"r"])
    for waiter in (a, b, c):
        registry.add(waiter)
    assert c.keys == (b"r",)
    registry.everything_changed()
    assert woken(a, b, c) == [True, False, True]

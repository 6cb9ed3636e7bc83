"""Failed logins per client address: online password guessing is slowed to a trickle.

Rules:
- An address (the client's IP, whatever its port) that failed `max_failures` logins (AUTH,
  HELLO ... AUTH) within the last `window_s` seconds is refused further attempts, without
  its password being looked at, until the oldest of those failures is `window_s` old; each
  refused attempt is counted (`on_refused`) and answered with an error saying when to retry.
- A successful login does not clear the count: a client holding one valid password must
  not be able to keep guessing another user's.
- Addresses `exempt` says so of are never limited (the node exempts the loopback
  interface, which its own operators and tools use, as protected mode trusts it).
- Memory is bounded: at most `max_addresses` addresses are tracked (the least recently
  failed are forgotten first), each with at most `max_failures` timestamps.
- Sans-IO: the caller passes the time (monotonic seconds).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

MAX_ADDRESSES = 10_000


def client_host(addr: str) -> str:
    """The host of a client's `host:port` (IPv6 hosts keep their colons)."""
    return addr.rpartition(":")[0] or addr


class AuthThrottle:
    """This node's failed logins by client host; `max_failures` 0 turns the limit off."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        on_refused: Callable[[], None] = lambda: None,
        exempt: Callable[[str], bool] = lambda address: False,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._on_refused = on_refused
        self._exempt = exempt
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str, now: float) -> float | None:
        """Seconds until `address` may try again, or None when it may try now (a refusal
        is counted)."""
        if self.max_failures <= 0:
            return None
        failures = self._failures.get(address)
        if failures is None or len(failures) < self.max_failures:
            return None
        wait = failures[0] + self.window_s - now
        if wait <= 0:
            return None
        self._on_refused()
        return wait

    def failed(self, address: str, now: float) -> None:
        if self.max_failures <= 0 or self._exempt(address):
            return
        failures = self._failures.pop(address, None)
        if failures is None:
            failures = deque(maxlen=self.max_failures)
        failures.append(now)
        self._failures[address] = failures  # the most recently failed last
        while len(self._failures) > self._max_addresses:
            self._failures.popitem(last=False)

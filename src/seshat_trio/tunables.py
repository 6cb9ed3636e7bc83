"""The settings CONFIG SET may change while a node runs, under their Redis names.

One `Tunables` per node, built from the `[redis]` section of its configuration; everything
that obeys a tunable reads it here at the moment it decides (a connection checking its
output buffer, the leader raising keyspace notifications), so CONFIG SET takes effect at
once without restarting anything. Each parameter is a name, a getter that formats it as
Redis does, and a setter that parses Redis's syntax (ValueError with Redis's reason).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from seshat_trio import encoding_params
from seshat_trio.config.model import RedisSection
from seshat_trio.memory_settings import (
    DEFAULT_CLIENTS_CAP,
    ClientsCap,
    parse_clients_cap,
    parse_memory,
    parse_policy,
    parse_timeout,
)
from seshat_trio.output_limits import OutputLimits, parse_output_limits
from seshat_trio.pubsub.notify import format_flags, parse_flags


@attrs.define(slots=True)
class Tunables:
    output_limits: OutputLimits = attrs.field(factory=OutputLimits)
    notify_flags: int = 0
    timeout: int = 0  # seconds a client may stay idle (0: forever)
    maxmemory: int = 0  # accounted bytes above which writes get -OOM (0: no limit)
    maxmemory_policy: str = "noeviction"
    maxmemory_clients: ClientsCap = DEFAULT_CLIENTS_CAP
    # How long a read-only script runs before other commands get BUSY (lua-time-limit).
    busy_reply_threshold_ms: int = 5000
    # Redis's collection encoding parameters: accepted, no effect (encoding_params.py).
    encodings: dict[str, int] = attrs.field(factory=lambda: dict(encoding_params.DEFAULTS))

    @classmethod
    def from_config(cls, section: RedisSection) -> Tunables:
        return cls(
            output_limits=parse_output_limits(section.client_output_buffer_limit),
            notify_flags=parse_flags(section.notify_keyspace_events),
            timeout=parse_timeout(section.timeout),
            maxmemory=parse_memory(section.maxmemory),
            maxmemory_policy=parse_policy(section.maxmemory_policy),
            maxmemory_clients=parse_clients_cap(section.maxmemory_clients),
        )

    @property
    def clients_input_cap(self) -> int:
        """maxmemory-clients in bytes (0: no cap)."""
        return self.maxmemory_clients.bytes_for(self.maxmemory)

    def get(self) -> dict[str, str]:
        """Every tunable, formatted as CONFIG GET reports it."""
        return {name: param.get(self) for name, param in PARAMETERS.items()}

    def set_all(self, changes: dict[str, str]) -> None:
        """Change each named parameter (keys of PARAMETERS), all or none: TunableError
        names the first value refused."""
        changed = attrs.evolve(self)
        for name, value in changes.items():
            try:
                PARAMETERS[name].set(changed, value)
            except ValueError as exc:
                raise TunableError(name, str(exc)) from None
        for field in attrs.fields(Tunables):
            setattr(self, field.name, getattr(changed, field.name))


class TunableError(ValueError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@attrs.frozen(slots=True)
class Parameter:
    get: Callable[[Tunables], str]
    set: Callable[[Tunables, str], None]


def _set_output_limits(tunables: Tunables, value: str) -> None:
    tunables.output_limits = parse_output_limits(value, tunables.output_limits)


def _set_notify_flags(tunables: Tunables, value: str) -> None:
    tunables.notify_flags = parse_flags(value)


def _set_busy_threshold(tunables: Tunables, value: str) -> None:
    try:
        milliseconds = int(value)
    except ValueError:
        raise ValueError("argument couldn't be parsed into an integer") from None
    if milliseconds < 0:
        raise ValueError("argument must be between 0 and 9223372036854775807 inclusive")
    tunables.busy_reply_threshold_ms = milliseconds


_BUSY = Parameter(lambda t: str(t.busy_reply_threshold_ms), _set_busy_threshold)


def _set_timeout(tunables: Tunables, value: str) -> None:
    tunables.timeout = parse_timeout(value)


def _set_maxmemory(tunables: Tunables, value: str) -> None:
    tunables.maxmemory = parse_memory(value)


def _set_policy(tunables: Tunables, value: str) -> None:
    tunables.maxmemory_policy = parse_policy(value)


def _set_clients_cap(tunables: Tunables, value: str) -> None:
    tunables.maxmemory_clients = parse_clients_cap(value)


def _encoding(parameter: encoding_params.Parameter) -> Parameter:
    def get(tunables: Tunables) -> str:
        return str(tunables.encodings[parameter.name])

    def set_(tunables: Tunables, value: str) -> None:
        # A new dict: set_all works on a shallow copy, all or none.
        parsed = encoding_params.parse(parameter, value)
        tunables.encodings = {**tunables.encodings, parameter.name: parsed}

    return Parameter(get, set_)


PARAMETERS: dict[str, Parameter] = {
    "client-output-buffer-limit": Parameter(lambda t: str(t.output_limits), _set_output_limits),
    "notify-keyspace-events": Parameter(lambda t: format_flags(t.notify_flags), _set_notify_flags),
    "timeout": Parameter(lambda t: str(t.timeout), _set_timeout),
    "maxmemory": Parameter(lambda t: str(t.maxmemory), _set_maxmemory),
    "maxmemory-policy": Parameter(lambda t: t.maxmemory_policy, _set_policy),
    "maxmemory-clients": Parameter(lambda t: str(t.maxmemory_clients), _set_clients_cap),
    "busy-reply-threshold": _BUSY,
    "lua-time-limit": _BUSY,  # its old name
    **{name: _encoding(p) for name, p in encoding_params.BY_NAME.items()},
}

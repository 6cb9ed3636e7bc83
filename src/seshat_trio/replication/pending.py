"""A reply that a command awaits after its write was submitted for replication."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import trio

from seshat_trio.errors import ServiceError
from seshat_trio.protocol import Reply


class PendingReply:
    """Resolved once by the replication engine; awaited once by the submitting command."""

    __slots__ = ("_error", "_event", "_value")

    def __init__(self) -> None:
        self._event = trio.Event()
        self._value: tuple[Reply, ...] = ()
        self._error: ServiceError | None = None

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def resolve(self, value: tuple[Reply, ...]) -> None:
        self._value = value
        self._event.set()

    def fail(self, error: ServiceError) -> None:
        self._error = error
        self._event.set()

    async def wait(self) -> tuple[Reply, ...]:
        await self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def __await__(self) -> Generator[Any, None, tuple[Reply, ...]]:
        return self.wait().__await__()

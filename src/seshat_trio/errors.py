"""Errors a client can be told about, shared by every layer (a leaf module).

`ServiceError.message` is the full Redis error text, code word first (e.g. "ERR timeout",
"NOQUORUM ..."): the protocol layer sends it as-is.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request failed in a way the client must be told about, with Redis error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OutcomeUnknownError(ServiceError):
    """The write may or may not have been applied; it is never reported as failed."""

    @classmethod
    def deadline_passed(cls, timeout_s: float) -> OutcomeUnknownError:
        """The request deadline (`limits.request_timeout_ms`) passed while waiting."""
        return cls(
            f"TIMEOUT the request was not confirmed within {timeout_s:g} s; a write in it may "
            "or may not have been applied"
        )


class LeaderIsLocalError(ServiceError):
    """Leadership moved to this node while its request was out to the old leader, which ran
    only its first `ran` commands (their replies: `payload`): the caller proposes the rest
    here after all."""

    def __init__(self, payload: bytes = b"", ran: int = 0) -> None:
        super().__init__(
            "TRYAGAIN leadership moved to this node during the request; it was not applied"
        )
        self.payload = payload
        self.ran = ran


class NotLeaderError(ServiceError):
    """This node cannot propose; the write was not proposed here (route it to the leader)."""

    def __init__(self, leader_id: int | None) -> None:
        super().__init__(f"NOLEADER this node is not the leader (leader: {leader_id})")
        self.leader_id = leader_id


MOVED_WHILE_FORWARDED = (
    "TRYAGAIN leadership moved while the request was forwarded; it was not applied"
)
"""A forwarded command the receiver no longer leads for (never forwarded twice). Nothing
was applied: the sender of a one-command request retries it with the new leader."""

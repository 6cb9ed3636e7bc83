"""ACL LOG: the recent denials and failed logins of this node's clients, as Redis keeps them.

An entry is a reason (command, key, channel, auth), a context (toplevel, multi), the object
refused (the command, key or channel; AUTH for a login), the user name and the client's
CLIENT LIST line. A denial equal to an entry less than 60 s old counts into that entry and
moves it to the front; at most `max_len` entries are kept, newest first. Times are given
by the caller (monotonic seconds), so this stays deterministic to test.

Each node keeps its own log: it records what the clients of that node were refused.
"""

from __future__ import annotations

from collections import Counter, deque

import attrs

GROUPING_SECONDS = 60.0
MAX_ENTRIES = 128


@attrs.define(slots=True)
class AclLogEntry:
    reason: str
    context: str
    object: bytes
    username: bytes
    client_info: bytes
    updated: float
    count: int = 1


class AclLog:
    def __init__(self, max_len: int = MAX_ENTRIES) -> None:
        self._entries: deque[AclLogEntry] = deque()
        self._max_len = max_len
        # Every denial since start, by reason (INFO stats, metrics); ACL LOG RESET keeps them.
        self.denied: Counter[str] = Counter()

    def add(
        self,
        *,
        reason: str,
        context: str,
        obj: bytes,
        username: bytes,
        client_info: bytes,
        now: float,
    ) -> None:
        self.denied[reason] += 1
        for entry in self._entries:
            if (
                entry.reason == reason
                and entry.context == context
                and entry.object == obj
                and entry.username == username
                and now - entry.updated < GROUPING_SECONDS
            ):
                self._entries.remove(entry)
                entry.count += 1
                entry.updated = now
                entry.client_info = client_info
                self._entries.appendleft(entry)
                return
        self._entries.appendleft(AclLogEntry(reason, context, obj, username, client_info, now))
        while len(self._entries) > self._max_len:
            self._entries.pop()

    def entries(self, count: int | None = None) -> list[AclLogEntry]:
        """The newest `count` entries (all by default), newest first."""
        found = list(self._entries)
        return found if count is None else found[: max(count, 0)]

    def reset(self) -> None:
        self._entries.clear()

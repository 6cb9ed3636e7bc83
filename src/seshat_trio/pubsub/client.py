"""One connection's subscriptions, the subscribed-mode rules, and how a message reaches it.

A message reaches the client through its output (`PushSink`), which never waits: it queues
and the connection's writer sends. While the connection is executing a read, messages are
placed among that read's replies instead (`inline`, set by the dispatcher), right after the
replies of the commands executed so far, so a client always sees a subscription's
confirmation before its first message and nothing after an unsubscription's confirmation,
as in Redis, even when RESP3 lets it pipeline other commands between them.

In RESP2 a client with any subscription may only (un)subscribe, PING, QUIT and RESET (Redis
7.0's rule; RESP3 has no such limit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from seshat_trio.protocol import ErrorReply, RawReplies, Reply
from seshat_trio.pubsub.registry import Kind, Registry

if TYPE_CHECKING:
    from seshat_trio.commands.context import ClientState

SUBSCRIBED_MODE_COMMANDS = frozenset(
    {"ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
     "punsubscribe", "quit", "reset"}
)  # fmt: skip
_CONFIRMATIONS = {
    Kind.CHANNEL: (b"subscribe", b"unsubscribe"),
    Kind.PATTERN: (b"psubscribe", b"punsubscribe"),
    Kind.SHARD: (b"ssubscribe", b"sunsubscribe"),
}
_NULL_BULK = b"$-1\r\n"


class PushSink(Protocol):
    """A connection's output as pub/sub sees it (server/output.py implements it)."""

    def push(self, data: bytes) -> None: ...

    def reserve(self, size: int) -> bool:
        """Count bytes held in a read's replies against the limit; False: client cut off."""
        ...


class ClientPubSub:
    __slots__ = (
        "_client",
        "_registry",
        "_sink",
        "_subscriptions",
        "inline",
        "reserved",
        "subscribed",
    )

    def __init__(self, client: ClientState, registry: Registry, sink: PushSink) -> None:
        self._client = client
        self._registry = registry
        self._sink = sink
        self._subscriptions: dict[Kind, dict[bytes, None]] = {kind: {} for kind in Kind}
        # The replies of the read being executed (dispatcher), and the bytes of the
        # messages placed among them, which the connection hands back to its output.
        self.inline: list[Reply] | None = None
        self.reserved = 0
        # Whether anything is subscribed: asked for every command a client sends (twice), so
        # kept up to date by the three methods that change the subscriptions, not computed.
        self.subscribed = False

    def names(self, kind: Kind) -> list[bytes]:
        return list(self._subscriptions[kind])

    @property
    def count(self) -> int:
        """Channels and patterns: what (P)SUBSCRIBE replies report."""
        return len(self._subscriptions[Kind.CHANNEL]) + len(self._subscriptions[Kind.PATTERN])

    @property
    def shard_count(self) -> int:
        return len(self._subscriptions[Kind.SHARD])

    def deliver(self, frame: bytes) -> None:
        data = frame if self._client.protocol == 2 else b">" + frame[1:]
        inline = self.inline
        if inline is None:
            self._sink.push(data)
        elif self._sink.reserve(len(data)):
            self.reserved += len(data)
            inline.append(RawReplies(data, 0))

    def take_reserved(self) -> int:
        reserved, self.reserved = self.reserved, 0
        return reserved

    def subscribe(self, kind: Kind, names: list[bytes]) -> RawReplies:
        """Subscribe to `names`; the confirmations, one per name, as one reply."""
        mine = self._subscriptions[kind]
        out = []
        for name in names:
            if name not in mine:
                mine[name] = None
                self._registry.add(kind, name, self)
                self.subscribed = True
            out.append(self._confirmation(kind, 0, name))
        return RawReplies(b"".join(out), 1)

    def unsubscribe(self, kind: Kind, names: list[bytes]) -> RawReplies:
        """Unsubscribe from `names` (every subscription of `kind` when empty)."""
        mine = self._subscriptions[kind]
        out = []
        for name in names or list(mine):
            if name in mine:
                del mine[name]
                self._registry.remove(kind, name, self)
                self.subscribed = any(self._subscriptions.values())
            out.append(self._confirmation(kind, 1, name))
        if not out:  # nothing to leave: Redis still confirms, with a null name
            out.append(self._confirmation(kind, 1, None))
        return RawReplies(b"".join(out), 1)

    def unsubscribe_all(self) -> None:
        """Leave everything without confirmations (RESET, connection closed)."""
        for kind, mine in self._subscriptions.items():
            for name in mine:
                self._registry.remove(kind, name, self)
            mine.clear()
        self.subscribed = False

    def _confirmation(self, kind: Kind, leaving: int, name: bytes | None) -> bytes:
        count = self.shard_count if kind is Kind.SHARD else self.count
        verb = _CONFIRMATIONS[kind][leaving]
        head = b"*3\r\n" if self._client.protocol == 2 else b">3\r\n"
        named = _NULL_BULK if name is None else b"$%d\r\n%b\r\n" % (len(name), name)
        if name is None and self._client.protocol == 3:
            named = b"_\r\n"
        return head + b"$%d\r\n%b\r\n" % (len(verb), verb) + named + b":%d\r\n" % count


def client_class(client: ClientState) -> str:
    """The client's class for output limits and CLIENT LIST/KILL TYPE."""
    pubsub = client.pubsub
    return "pubsub" if pubsub is not None and pubsub.subscribed else "normal"


def in_subscribed_mode(client: ClientState) -> bool:
    """RESP2 with a subscription: only SUBSCRIBED_MODE_COMMANDS may run."""
    return client.protocol == 2 and client.pubsub is not None and client.pubsub.subscribed


def refusal(
    client: ClientState, name: str, container: bool, argv: list[bytes]
) -> ErrorReply | None:
    """Redis's error for a command a client in subscribed mode may not run, or None."""
    if name in SUBSCRIBED_MODE_COMMANDS or not in_subscribed_mode(client):
        return None
    if container and len(argv) > 1:
        name = f"{name}|{argv[1].decode(errors='replace').lower()}"
    return ErrorReply(
        f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context"
    )

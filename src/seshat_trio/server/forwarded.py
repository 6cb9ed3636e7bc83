"""Execute requests that followers forwarded to this node (the leader).

A forwarded request runs through the same command layer as a local client's, on a client
state that carries the original client's protocol version and is marked `forwarded`, so
its writes are proposed here or fail (TRYAGAIN) but never travel on to a third node.

Its replies travel back in one frame, which the follower refuses (and drops the link) above
the node-to-node frame limit. A reply that would not fit (an EXEC of many large reads, a
huge MGET) is replaced by an error saying the command ran, so the link and every other
reply survive and the client learns what happened.
"""

from __future__ import annotations

from collections.abc import Sequence

from seshat_trio.commands.context import Backend, ClientIds, ClientState, CommandContext
from seshat_trio.commands.dispatch import execute
from seshat_trio.config import Config
from seshat_trio.protocol import ErrorReply, Reply, encode_replies
from seshat_trio.pubsub.hub import PubSubHub
from seshat_trio.transport import ForwardReply, ForwardRequest
from seshat_trio.tunables import Tunables

TOO_LARGE = (
    "ERR the reply ({size} bytes) is too large to return through a follower (limit {limit} "
    "bytes); the command ran on the leader (node {leader}): send it there, or ask for less"
)


def fit_payload(replies: Sequence[Reply], protocol: int, limit: int, leader: int) -> bytes:
    """The encoded replies, with the largest ones replaced by errors until they fit `limit`.

    Each command keeps exactly one reply, so the follower's split stays aligned."""
    payload = encode_replies(replies, protocol)
    if len(payload) <= limit:
        return payload
    encoded = [encode_replies((reply,), protocol) for reply in replies]
    total = len(payload)
    for i in sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True):
        if total <= limit:
            break
        error = ErrorReply(TOO_LARGE.format(size=len(encoded[i]), limit=limit, leader=leader))
        replacement = encode_replies((error,), protocol)
        total += len(replacement) - len(encoded[i])
        encoded[i] = replacement
    return b"".join(encoded)


class ForwardedExecutor:
    """The transport's `on_forward` handler; replies stay within `max_payload_bytes`."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        client_ids: ClientIds,
        max_payload_bytes: int,
        *,
        pubsub: PubSubHub | None = None,
        tunables: Tunables | None = None,
    ) -> None:
        self._config = config
        self._pubsub = pubsub
        self._tunables = tunables or Tunables.from_config(config.redis)
        self._backend = backend
        self._client_ids = client_ids
        self._max_payload_bytes = max_payload_bytes

    async def __call__(self, src: int, request: ForwardRequest) -> ForwardReply:
        client = ClientState(
            id=self._client_ids.take(),
            addr=f"node-{src}",
            protocol=request.protocol,
            forwarded=True,
        )
        # A peer asking about this node's subscriptions (PUBSUB) needs its pub/sub.
        ctx = CommandContext(
            client,
            self._backend,
            self._config,
            pubsub=self._pubsub,
            tunables=self._tunables,
            routed_group=request.group,
        )
        replies = await execute(ctx, [list(command) for command in request.commands])
        payload = fit_payload(
            replies, request.protocol, self._max_payload_bytes, self._config.node.id
        )
        return ForwardReply(request.request_id, payload)

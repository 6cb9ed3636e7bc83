"""Execute requests that followers forwarded to this node (the leader).

A forwarded request runs through the same command layer as a local client's, on a client
state that carries the original client's protocol version and is marked `forwarded`, so
its writes are proposed here or fail (TRYAGAIN) but never travel on to a third node.
"""

from __future__ import annotations

from seshat_trio.commands.context import Backend, ClientIds, ClientState, CommandContext
from seshat_trio.commands.dispatch import execute
from seshat_trio.config import Config
from seshat_trio.protocol import encode_replies
from seshat_trio.transport import ForwardReply, ForwardRequest


class ForwardedExecutor:
    """The transport's `on_forward` handler."""

    def __init__(self, config: Config, backend: Backend, client_ids: ClientIds) -> None:
        self._config = config
        self._backend = backend
        self._client_ids = client_ids

    async def __call__(self, src: int, request: ForwardRequest) -> ForwardReply:
        client = ClientState(
            id=self._client_ids.take(),
            addr=f"node-{src}",
            protocol=request.protocol,
            forwarded=True,
        )
        ctx = CommandContext(client, self._backend, self._config)
        replies = await execute(ctx, [list(command) for command in request.commands])
        return ForwardReply(request.request_id, encode_replies(replies, request.protocol))

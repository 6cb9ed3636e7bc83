"""The Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.

They run on the node the client is connected to, never through the leader: subscriptions
live with the connection, and PUBLISH delivers through the node's hub (pubsub/hub.py). A
(un)subscribe answers one confirmation per name, as one reply. PUBSUB answers for the whole
cluster; when a peer asks (a forwarded request), it answers for this node alone, and NUMPAT
then lists the patterns so that the asker can count the distinct ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from seshat_trio.commands.context import CommandContext
from seshat_trio.commands.table import (
    CommandSpec,
    key_flags,
    published_channel,
    register,
    subcommand,
    subscribed_channels,
    subscribed_patterns,
    wrong_arity,
)
from seshat_trio.protocol import ErrorReply, Reply, SimpleString
from seshat_trio.pubsub.client import ClientPubSub
from seshat_trio.pubsub.registry import Kind

NO_SUBSCRIPTIONS = ErrorReply("ERR this connection cannot subscribe (no pub/sub here)")

HELP = (
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
)


def _subscriptions(ctx: CommandContext) -> ClientPubSub | ErrorReply:
    return ctx.client.pubsub if ctx.client.pubsub is not None else NO_SUBSCRIPTIONS


def _subscriber(kind: Kind, leaving: bool) -> Any:
    async def run(ctx: CommandContext, argv: list[bytes]) -> Reply:
        mine = _subscriptions(ctx)
        if isinstance(mine, ErrorReply):
            return mine
        return mine.unsubscribe(kind, argv[1:]) if leaving else mine.subscribe(kind, argv[1:])

    return run


async def publish(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.pubsub is None:
        return 0
    return await ctx.pubsub.publish(argv[1], argv[2])


async def spublish(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.pubsub is None:
        return 0
    return await ctx.pubsub.publish(argv[1], argv[2], shard=True)


async def pubsub(ctx: CommandContext, argv: list[bytes]) -> Reply:
    hub = ctx.pubsub
    sub = argv[1].lower()
    n = len(argv)
    if sub == b"help":
        return [SimpleString(line) for line in HELP] if n == 2 else wrong_arity("pubsub|help")
    if hub is None:
        return NO_SUBSCRIPTIONS
    registry = hub.registry
    alone = ctx.client.forwarded  # a peer asking for this node's part
    if sub in (b"channels", b"shardchannels") and n <= 3:
        kind = Kind.CHANNEL if sub == b"channels" else Kind.SHARD
        names = dict.fromkeys(registry.names(kind, argv[2] if n == 3 else None))
        if not alone:
            for answer in await hub.gather(argv):
                names.update(dict.fromkeys(answer))
        return list(names)
    if sub in (b"numsub", b"shardnumsub"):
        kind = Kind.CHANNEL if sub == b"numsub" else Kind.SHARD
        wanted = argv[2:]
        counts = Counter(dict(zip(wanted, registry.counts(kind, wanted), strict=True)))
        if not alone and wanted:
            for answer in await hub.gather(argv):
                counts.update(dict(zip(answer[::2], answer[1::2], strict=True)))
        return [item for name in wanted for item in (name, counts[name])]
    if sub == b"numpat":
        if n != 2:
            return wrong_arity("pubsub|numpat")
        patterns = set(registry.names(Kind.PATTERN))
        if alone:
            return sorted(patterns)
        for answer in await hub.gather(argv):
            patterns.update(answer)
        return len(patterns)
    if sub in (b"channels", b"shardchannels"):
        return ErrorReply(
            f"ERR unknown subcommand or wrong number of arguments for "
            f"'{argv[1].decode(errors='replace')}'. Try PUBSUB HELP."
        )
    return ErrorReply(
        f"ERR unknown subcommand '{argv[1].decode(errors='replace')}'. Try PUBSUB HELP."
    )


# Shard channels route like keys but are none (ACL checks them as channels).
_NOT_KEY = (key_flags("not_key"),)
_SUBSCRIBE = frozenset({"pubsub", "noscript", "loading", "stale"})
_PUBLISH = frozenset({"pubsub", "loading", "stale", "fast"})
register(
    CommandSpec("subscribe", -2, _SUBSCRIBE, 0, 0, 0, "pubsub",
                "Listens for messages published to channels.", "2.0.0",
                "O(N) where N is the number of channels to subscribe to.",
                run=_subscriber(Kind.CHANNEL, leaving=False), channels_proc=subscribed_channels),
    CommandSpec("unsubscribe", -1, _SUBSCRIBE, 0, 0, 0, "pubsub",
                "Stops listening to messages posted to channels.", "2.0.0",
                "O(N) where N is the number of clients already subscribed to a channel.",
                run=_subscriber(Kind.CHANNEL, leaving=True)),
    CommandSpec("psubscribe", -2, _SUBSCRIBE, 0, 0, 0, "pubsub",
                "Listens for messages published to channels that match one or more "
                "patterns.", "2.0.0", "O(N) where N is the number of patterns to subscribe to.",
                run=_subscriber(Kind.PATTERN, leaving=False), channels_proc=subscribed_patterns),
    CommandSpec("punsubscribe", -1, _SUBSCRIBE, 0, 0, 0, "pubsub",
                "Stops listening to messages published to channels that match one or more "
                "patterns.", "2.0.0",
                "O(N) where N is the number of patterns to unsubscribe.",
                run=_subscriber(Kind.PATTERN, leaving=True)),
    CommandSpec("ssubscribe", -2, _SUBSCRIBE, 1, -1, 1, "pubsub",
                "Listens for messages published to shard channels.", "7.0.0",
                "O(N) where N is the number of shard channels to subscribe to.",
                run=_subscriber(Kind.SHARD, leaving=False), key_flags=_NOT_KEY,
                channels_proc=subscribed_channels),
    CommandSpec("sunsubscribe", -1, _SUBSCRIBE, 1, -1, 1, "pubsub",
                "Stops listening to messages posted to shard channels.", "7.0.0",
                "O(N) where N is the number of clients already subscribed to a shard channel.",
                run=_subscriber(Kind.SHARD, leaving=True), key_flags=_NOT_KEY),
    CommandSpec("publish", 3, _PUBLISH, 0, 0, 0, "pubsub",
                "Posts a message to a channel.", "2.0.0",
                "O(N+M) where N is the number of clients subscribed to the receiving channel "
                "and M is the total number of subscribed patterns (by any client).",
                run=publish, channels_proc=published_channel),
    CommandSpec("spublish", 3, _PUBLISH, 1, 1, 1, "pubsub",
                "Post a message to a shard channel", "7.0.0",
                "O(N) where N is the number of clients subscribed to the receiving shard "
                "channel.", run=spublish, key_flags=_NOT_KEY, channels_proc=published_channel),
    CommandSpec("pubsub", -2, frozenset(), 0, 0, 0, "pubsub",
                "A container for Pub/Sub commands.", "2.8.0", "Depends on subcommand.",
                run=pubsub, subcommands=(
                    subcommand("channels", -2, "pubsub loading stale"),
                    subcommand("numpat", 2, "pubsub loading stale"),
                    subcommand("numsub", -2, "pubsub loading stale"),
                    subcommand("shardchannels", -2, "pubsub loading stale"),
                    subcommand("shardnumsub", -2, "pubsub loading stale"),
                    subcommand("help", 2, "loading stale"),
                )),
)  # fmt: skip

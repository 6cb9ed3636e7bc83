"""ACL command categories, derived from a command's group and flags as Redis derives them.

Redis 7 gives each command the categories its JSON lists plus those its flags imply
(`setImplicitACLCategories`): write -> @write, readonly -> @read (not for scripting),
admin -> @admin and @dangerous, pubsub -> @pubsub, fast -> @fast, blocking -> @blocking,
and @slow for whatever is not @fast. The listed ones are, with few exceptions, the
command's group (string -> @string, generic -> @keyspace, ...): that is what is derived
here, so a new command needs no ACL edit. The exceptions are stated on the command row
(`acl_categories`: KEYS and FLUSHALL are @dangerous, COMMAND is @connection). A container
that cannot run without a subcommand (CONFIG, CLIENT, ACL) takes only what its flags
imply: its subcommands carry the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Every category, in Redis's order (ACL CAT, COMMAND INFO).
CATEGORIES = (
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
)
_ORDER = {name: i for i, name in enumerate(CATEGORIES)}

#: Command group (COMMAND DOCS) -> the category of the same commands; server and cluster
#: commands have none, and @pubsub comes from the `pubsub` flag (PUBSUB HELP has neither).
GROUP_CATEGORIES = {
    "keyspace": "keyspace",
    "generic": "keyspace",
    "string": "string",
    "hash": "hash",
    "list": "list",
    "set": "set",
    "sorted_set": "sortedset",
    "stream": "stream",
    "bitmap": "bitmap",
    "hyperloglog": "hyperloglog",
    "geo": "geo",
    "connection": "connection",
    "transactions": "transaction",
    "scripting": "scripting",
}


def derive(
    group: str, flags: Iterable[str], listed: Iterable[str] = (), *, bare_container: bool = False
) -> tuple[str, ...]:
    """A command's categories in Redis's order. `listed`: those its row states explicitly;
    `bare_container`: a container that never runs without a subcommand."""
    flags = frozenset(flags)
    found: set[str] = set()
    if not bare_container:
        found.update(listed)
        if group in GROUP_CATEGORIES:
            found.add(GROUP_CATEGORIES[group])
    if "write" in flags:
        found.add("write")
    if "readonly" in flags and "scripting" not in found:
        found.add("read")
    if "admin" in flags:
        found.update(("admin", "dangerous"))
    for flag in ("pubsub", "fast", "blocking"):
        if flag in flags:
            found.add(flag)
    if "fast" not in found:
        found.add("slow")
    unknown = found.difference(_ORDER)
    if unknown:
        raise ValueError(f"unknown ACL categories {sorted(unknown)}")
    return tuple(sorted(found, key=_ORDER.__getitem__))

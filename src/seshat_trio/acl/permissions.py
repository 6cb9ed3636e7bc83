"""What a user may run: rules compiled against the command table, and the check itself.

The command table reaches this module only as a `Catalog` (every command and subcommand
by full name, `config|get`, with its categories), so the rules engine stays apart from the
command layer. Compiling replays a selector's command rules over the catalog with Redis's
semantics (ACLSetSelector / ACLChangeSelectorPerm):

- `+cmd` / `-cmd` allow or deny a command together with all its subcommands, and forget
  first arguments allowed for it;
- `+cmd|sub` / `-cmd|sub` change one subcommand; `+cmd|arg` for a command without
  subcommands allows it only when its first argument is `arg` (Redis's deprecated form);
- `+@cat` / `-@cat` do the first for every command in the category, and the second for
  every subcommand in it;
- a rule naming a command this build does not have is skipped (a newer node proposed it).

The check follows ACLCheckAllUserCommandPerm: a command is allowed when one selector allows
the command (AUTH, HELLO, QUIT, RESET always), every key with the access it needs (read
for `access`, write for `insert`/`update`/`delete` key-spec flags) and every channel. When
none does, the denial reported is the most specific one (channel > key > command), the
last argument among equals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from seshat_trio.acl.categories import CATEGORIES
from seshat_trio.acl.rules import (
    SUBCOMMAND_FIRST_ARG,
    UNKNOWN_COMMAND,
    AclRuleError,
    KeyPattern,
    Selector,
    User,
    command_rule_parts,
)
from seshat_trio.glob import stringmatch

WRITE_ACCESS = frozenset(("insert", "update", "delete"))


@attrs.frozen(slots=True)
class Catalog:
    """The command table as ACL sees it."""

    # Full name -> categories, for every command and subcommand.
    categories: Mapping[str, tuple[str, ...]]
    # Container command -> the full names of its subcommands.
    subcommands: Mapping[str, tuple[str, ...]]

    def in_category(self, category: str) -> list[str]:
        return [name for name, cats in self.categories.items() if category in cats]


def check_command_rule(rule: bytes, catalog: Catalog) -> None:
    """Refuse (as Redis does) a command rule naming no command, subcommand or category."""
    allow, name, sub = command_rule_parts(rule)
    if name.startswith("@"):
        if name[1:] not in CATEGORIES and name != "@all":
            raise AclRuleError(rule, UNKNOWN_COMMAND)
        return
    if name not in catalog.categories or "|" in name:
        raise AclRuleError(rule, UNKNOWN_COMMAND)
    if sub is None:
        return
    if "|" in sub:
        raise AclRuleError(rule, SUBCOMMAND_FIRST_ARG)
    if name in catalog.subcommands:
        if f"{name}|{sub}" not in catalog.categories:
            raise AclRuleError(rule, UNKNOWN_COMMAND)
    elif not allow:  # a first argument can only be allowed
        raise AclRuleError(rule, UNKNOWN_COMMAND)


@attrs.frozen(slots=True)
class Denial:
    """Why a command is refused: `reason` is command, key or channel; `position` is the
    argument at fault (0 for the command itself)."""

    reason: str
    position: int


_RANK = {"command": 1, "key": 2, "channel": 4}

KeyRefs = Sequence[tuple[int, frozenset[str]]]
ChannelRefs = Sequence[tuple[int, bool]]


@attrs.frozen(slots=True)
class CompiledSelector:
    # None: every command (+@all with nothing taken away).
    allowed: frozenset[str] | None
    first_args: Mapping[str, frozenset[bytes]]
    all_keys: bool
    keys: tuple[KeyPattern, ...]
    all_channels: bool
    channels: tuple[bytes, ...]

    @property
    def unrestricted(self) -> bool:
        return self.allowed is None and self.all_keys and self.all_channels

    def command_allowed(self, fullname: str, argv: Sequence[bytes]) -> bool:
        if self.allowed is None or fullname in self.allowed:
            return True
        allowed_args = self.first_args.get(fullname)
        return allowed_args is not None and len(argv) > 1 and argv[1].lower() in allowed_args

    def key_denied(self, argv: Sequence[bytes], keys: KeyRefs) -> int | None:
        """The position of the first key this selector does not grant, if any."""
        for pos, flags in keys:
            if "not_key" in flags:  # a shard channel: checked as a channel
                continue
            read = "access" in flags
            write = not WRITE_ACCESS.isdisjoint(flags)
            key = argv[pos]
            if not any(
                (p.read or not read) and (p.write or not write) and stringmatch(p.pattern, key)
                for p in self.keys
            ):
                return pos
        return None

    def channel_denied(self, argv: Sequence[bytes], channels: ChannelRefs) -> int | None:
        for pos, is_pattern in channels:
            if not self.channel_granted(argv[pos], is_pattern):
                return pos
        return None

    def channel_granted(self, name: bytes, is_pattern: bool) -> bool:
        if self.all_channels:
            return True
        if is_pattern:  # a subscription pattern must be one the user holds, literally
            return name in self.channels
        return any(stringmatch(pattern, name) for pattern in self.channels)


def compile_selector(selector: Selector, catalog: Catalog) -> CompiledSelector:
    if selector.all_commands and not selector.command_rules:
        return _compiled(selector, None, {})
    allowed: set[str] = set(catalog.categories) if selector.all_commands else set()
    first_args: dict[str, set[bytes]] = {}

    def change(name: str, allow: bool) -> None:
        names = (name, *catalog.subcommands.get(name, ()))
        if allow:
            allowed.update(names)
        else:
            allowed.difference_update(names)
        first_args.pop(name, None)

    for rule in selector.command_rules:
        allow, item = rule[0] == "+", rule[1:]
        if item.startswith("@"):
            for name in catalog.in_category(item[1:]):
                if "|" in name:
                    (allowed.add if allow else allowed.discard)(name)
                else:
                    change(name, allow)
        elif "|" in item:
            parent, arg = item.split("|", 1)
            if parent in catalog.subcommands:
                if item in catalog.categories:
                    (allowed.add if allow else allowed.discard)(item)
            elif parent in catalog.categories and allow:
                first_args.setdefault(parent, set()).add(arg.encode("latin-1"))
        elif item in catalog.categories:
            change(item, allow)
    first = {name: frozenset(args) for name, args in first_args.items()}
    return _compiled(selector, frozenset(allowed), first)


def _compiled(
    selector: Selector, allowed: frozenset[str] | None, first_args: Mapping[str, frozenset[bytes]]
) -> CompiledSelector:
    return CompiledSelector(
        allowed=allowed,
        first_args=first_args,
        all_keys=selector.all_keys,
        keys=selector.keys,
        all_channels=selector.all_channels,
        channels=selector.channels,
    )


@attrs.frozen(slots=True)
class Permissions:
    """A user's selectors, compiled; `unrestricted` when one of them allows everything."""

    selectors: tuple[CompiledSelector, ...]
    unrestricted: bool

    def check(
        self,
        fullname: str,
        argv: Sequence[bytes],
        *,
        no_auth: bool = False,
        keys: Callable[[], KeyRefs] = lambda: (),
        channels: Callable[[], ChannelRefs] = lambda: (),
    ) -> Denial | None:
        """None when some selector allows the command with these keys and channels."""
        if self.unrestricted:
            return None
        worst: Denial | None = None
        key_refs: KeyRefs | None = None
        channel_refs: ChannelRefs | None = None
        for selector in self.selectors:
            denial: Denial | None = None
            if not no_auth and not selector.command_allowed(fullname, argv):
                denial = Denial("command", 0)
            else:
                if not selector.all_keys:
                    if key_refs is None:
                        key_refs = keys()
                    pos = selector.key_denied(argv, key_refs)
                    if pos is not None:
                        denial = Denial("key", pos)
                if denial is None and not selector.all_channels:
                    if channel_refs is None:
                        channel_refs = channels()
                    pos = selector.channel_denied(argv, channel_refs)
                    if pos is not None:
                        denial = Denial("channel", pos)
            if denial is None:
                return None
            if worst is None or (_RANK[denial.reason], denial.position) > (
                _RANK[worst.reason],
                worst.position,
            ):
                worst = denial
        return worst

    def may_keep(self, subscriptions: Iterable[tuple[bytes, bool]]) -> bool:
        """Whether subscriptions (channel or pattern, is_pattern) are all still granted by
        some selector; Redis disconnects a subscriber whose user lost one."""
        return all(
            any(s.channel_granted(name, is_pattern) for s in self.selectors)
            for name, is_pattern in subscriptions
        )


def compile_user(user: User, catalog: Catalog) -> Permissions:
    selectors = tuple(compile_selector(s, catalog) for s in (user.root, *user.selectors))
    return Permissions(selectors, any(s.unrestricted for s in selectors))

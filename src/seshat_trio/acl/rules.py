"""ACL users and their rules (Redis 7 ACL SETUSER syntax): parse, apply, describe, store.

Rules:
- Pure and syntactic: nothing here knows the command table. Whether `+config|get` names a
  real subcommand is checked by the caller before a change is proposed
  (`permissions.check_command_rule`); applying a rule never depends on the table, so every
  node applies a replicated change to the same result whatever its version.
- A `User` is immutable; `apply_rules` returns a new one or raises `AclRuleError` (with
  Redis's message) and leaves nothing half-applied.
- Passwords are kept only as SHA-256 hex digests (`#<hash>`), as Redis keeps them.
- Command rules are kept as given, in order, with an earlier rule for the same command
  (or one of its subcommands) dropped when a later one names it again; `+@all` and `-@all`
  start over. This is how Redis 7.2 keeps and describes them (7.0 re-derives an
  approximation from a bitmap); the permissions are the same.

A user has a root selector and any number of extra selectors `(...)`; a command is
allowed when one selector allows the command, all its keys and all its channels.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

SYNTAX = "Syntax error"
UNKNOWN_COMMAND = "Unknown command or category name in ACL"
KEYS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
)
CHANNELS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
)
NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
BAD_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters"
)
SUBCOMMAND_FIRST_ARG = "Allowing first-arg of a subcommand is not supported"

_HASH = re.compile(rb"[0-9a-f]{64}")


class AclRuleError(ValueError):
    """A rule that cannot be applied: `rule` is the modifier, `reason` Redis's text."""

    def __init__(self, rule: bytes, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason

    @property
    def message(self) -> str:
        rule = self.rule.decode(errors="replace")
        return f"ERR Error in ACL SETUSER modifier '{rule}': {self.reason}"


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


@attrs.frozen(slots=True)
class KeyPattern:
    pattern: bytes
    read: bool = True
    write: bool = True

    def describe(self) -> bytes:
        if self.read and self.write:
            return b"~" + self.pattern
        return (b"%R~" if self.read else b"%W~") + self.pattern


@attrs.frozen(slots=True)
class Selector:
    """What a selector allows: commands (rules over the table), key and channel patterns."""

    all_commands: bool = False
    command_rules: tuple[str, ...] = ()
    all_keys: bool = False
    keys: tuple[KeyPattern, ...] = ()
    all_channels: bool = False
    channels: tuple[bytes, ...] = ()

    def describe_commands(self) -> str:
        return " ".join(("+@all" if self.all_commands else "-@all", *self.command_rules))

    def describe_keys(self) -> bytes:
        if self.all_keys:
            return b"~*"
        return b" ".join(pattern.describe() for pattern in self.keys)

    def describe_channels(self) -> bytes:
        """Channels as ACL GETUSER shows them (no `resetchannels`)."""
        if self.all_channels:
            return b"&*"
        return b" ".join(b"&" + channel for channel in self.channels)

    def describe(self) -> bytes:
        """The selector as ACL LIST shows it: keys, channels, commands."""
        parts = [self.describe_keys()] if self.all_keys or self.keys else []
        if self.all_channels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + channel for channel in self.channels)
        parts.append(self.describe_commands().encode())
        return b" ".join(parts)


@attrs.frozen(slots=True)
class User:
    name: bytes
    enabled: bool = False
    nopass: bool = False
    # "" | "sanitize-payload" | "skip-sanitize-payload" (accepted; there is no RESTORE).
    sanitize: str = ""
    passwords: tuple[str, ...] = ()
    root: Selector = Selector()
    selectors: tuple[Selector, ...] = ()

    @property
    def flags(self) -> list[str]:
        """ACL GETUSER's flags, in Redis's order."""
        found = ["on" if self.enabled else "off"]
        if self.nopass:
            found.append("nopass")
        if self.sanitize:
            found.append(self.sanitize)
        return found

    def describe(self) -> bytes:
        """The user as one ACL LIST line (also the aclfile format)."""
        parts = [b"user", self.name, *(f.encode() for f in self.flags)]
        parts += [b"#" + p.encode() for p in self.passwords]
        parts.append(self.root.describe())
        parts += [b"(" + s.describe() + b")" for s in self.selectors]
        return b" ".join(parts)

    def accepts(self, password: bytes) -> bool:
        """Whether AUTH with `password` succeeds (the user must also be on)."""
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = hash_password(password)
        # Compare every stored hash: the time taken does not tell which one matched.
        matched = False
        for stored in self.passwords:
            matched |= hmac.compare_digest(stored, digest)
        return matched


DEFAULT_USER = User(
    b"default",
    enabled=True,
    nopass=True,
    root=Selector(all_commands=True, all_keys=True, all_channels=True),
)


def new_user(name: bytes) -> User:
    """A user ACL SETUSER creates: off, no password, no commands, keys or channels."""
    return User(name)


# -- applying rules ----------------------------------------------------------------------


def merge_selector_args(args: Sequence[bytes]) -> list[bytes]:
    """ACL SETUSER arguments with each `(...)` selector joined into one, as Redis does."""
    merged: list[bytes] = []
    open_at: int | None = None
    for arg in args:
        if open_at is None:
            if arg.startswith(b"(") and not arg.endswith(b")"):
                open_at = len(merged)
            merged.append(arg)
        else:
            merged[open_at] += b" " + arg
            if arg.endswith(b")"):
                open_at = None
    if open_at is not None:
        start = merged[open_at].decode(errors="replace")
        raise AclSyntaxError(f"ERR Unmatched parenthesis in acl selector starting at '{start}'.")
    return merged


class AclSyntaxError(ValueError):
    """ACL SETUSER arguments that are not a list of rules (the whole message is Redis's)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


#: Checks a command rule against the command table (raises AclRuleError).
CommandCheck = Callable[[bytes], None]


def _no_check(rule: bytes) -> None:
    """Applying a replicated change: the proposer checked its rules against its table."""


def apply_rules(user: User, rules: Iterable[bytes], check: CommandCheck = _no_check) -> User:
    """`user` with `rules` applied in order (selectors already merged); all or nothing."""
    for rule in rules:
        user = apply_rule(user, rule, check)
    return user


_USER_SWITCHES: dict[bytes, dict[str, Any]] = {
    b"on": {"enabled": True},
    b"off": {"enabled": False},
    b"nopass": {"nopass": True, "passwords": ()},
    b"resetpass": {"nopass": False, "passwords": ()},
    b"sanitize-payload": {"sanitize": "sanitize-payload"},
    b"skip-sanitize-payload": {"sanitize": "skip-sanitize-payload"},
    b"clearselectors": {"selectors": ()},
}


def apply_rule(user: User, rule: bytes, check: CommandCheck = _no_check) -> User:
    lowered = rule.lower()
    switch = _USER_SWITCHES.get(lowered)
    if switch is not None:
        return attrs.evolve(user, **switch)
    if lowered == b"reset":
        return attrs.evolve(
            user,
            enabled=False,
            nopass=False,
            passwords=(),
            sanitize="sanitize-payload",
            root=Selector(),
            selectors=(),
        )
    head = rule[:1]
    if head in (b">", b"<", b"#", b"!"):
        return _password_rule(user, rule)
    if head == b"(" and rule.endswith(b")"):
        selector = Selector()
        for part in rule[1:-1].split(b" "):
            if part:
                try:
                    selector = apply_selector_rule(selector, part, check)
                except AclRuleError as exc:
                    raise AclRuleError(rule, exc.reason) from None
        return attrs.evolve(user, selectors=(*user.selectors, selector))
    return attrs.evolve(user, root=apply_selector_rule(user.root, rule, check))


def _password_rule(user: User, rule: bytes) -> User:
    head, body = rule[:1], rule[1:]
    if head in (b"#", b"!"):
        if not _HASH.fullmatch(body):
            raise AclRuleError(rule, BAD_HASH)
        digest = body.decode()
    else:
        digest = hash_password(body)
    if head in (b">", b"#"):
        passwords = user.passwords if digest in user.passwords else (*user.passwords, digest)
        return attrs.evolve(user, passwords=passwords, nopass=False)
    if digest not in user.passwords:
        raise AclRuleError(rule, NO_SUCH_PASSWORD)
    return attrs.evolve(user, passwords=tuple(p for p in user.passwords if p != digest))


def apply_selector_rule(
    selector: Selector, rule: bytes, check: CommandCheck = _no_check
) -> Selector:
    lowered = rule.lower()
    if lowered in (b"allkeys", b"~*"):
        return attrs.evolve(selector, all_keys=True, keys=())
    if lowered == b"resetkeys":
        return attrs.evolve(selector, all_keys=False, keys=())
    if lowered in (b"allchannels", b"&*"):
        return attrs.evolve(selector, all_channels=True, channels=())
    if lowered == b"resetchannels":
        return attrs.evolve(selector, all_channels=False, channels=())
    if lowered in (b"allcommands", b"+@all"):
        return attrs.evolve(selector, all_commands=True, command_rules=())
    if lowered in (b"nocommands", b"-@all"):
        return attrs.evolve(selector, all_commands=False, command_rules=())
    head = rule[:1]
    if head in (b"~", b"%"):
        return _key_rule(selector, rule)
    if head == b"&":
        if selector.all_channels:
            raise AclRuleError(rule, CHANNELS_AFTER_ALL)
        channel = rule[1:]
        if channel in selector.channels:
            return selector
        return attrs.evolve(selector, channels=(*selector.channels, channel))
    if head in (b"+", b"-"):
        check(rule)
        return _command_rule(selector, rule)
    raise AclRuleError(rule, SYNTAX)


def _key_rule(selector: Selector, rule: bytes) -> Selector:
    if selector.all_keys:
        raise AclRuleError(rule, KEYS_AFTER_ALL)
    read = write = True
    offset = 1
    if rule[:1] == b"%":
        read = write = False
        while offset < len(rule):
            flag = rule[offset : offset + 1].upper()
            offset += 1
            if flag == b"R" and not read:
                read = True
            elif flag == b"W" and not write:
                write = True
            elif flag == b"~":
                break
            else:
                raise AclRuleError(rule, SYNTAX)
        if not (read or write):
            raise AclRuleError(rule, SYNTAX)
    pattern = rule[offset:]
    if pattern == b"*" and read and write:
        return attrs.evolve(selector, all_keys=True, keys=())
    patterns = list(selector.keys)
    for i, existing in enumerate(patterns):
        if existing.pattern == pattern:
            patterns[i] = KeyPattern(pattern, existing.read or read, existing.write or write)
            break
    else:
        patterns.append(KeyPattern(pattern, read, write))
    return attrs.evolve(selector, keys=tuple(patterns))


def command_rule_parts(rule: bytes) -> tuple[bool, str, str | None]:
    """(allow, command or "@category", subcommand or first argument) of a command rule."""
    text = rule[1:].lower().decode(errors="replace")
    name, bar, sub = text.partition("|")
    return rule[:1] == b"+", name, sub if bar else None


def _command_rule(selector: Selector, rule: bytes) -> Selector:
    allow, name, sub = command_rule_parts(rule)
    if not name or name == "@":
        raise AclRuleError(rule, UNKNOWN_COMMAND)
    if sub is not None:
        if name.startswith("@") or not sub:
            raise AclRuleError(rule, UNKNOWN_COMMAND)
        if "|" in sub:
            raise AclRuleError(rule, SUBCOMMAND_FIRST_ARG)
    item = name if sub is None else f"{name}|{sub}"
    # Redis 7.2's ACLRemoveCommandRule: the same item, or (for a command) any of its
    # subcommands or first arguments, said earlier no longer has any effect.
    kept = tuple(
        r
        for r in selector.command_rules
        if r[1:] != item and not (sub is None and r[1:].startswith(item + "|"))
    )
    return attrs.evolve(selector, command_rules=(*kept, ("+" if allow else "-") + item))


# -- storage -------------------------------------------------------------------------------
# Users travel in the system group's log and snapshots as JSON. Names, patterns and
# channels are bytes: they are stored as latin-1 text, which maps every byte to one code
# point and back.


def _text(data: bytes) -> str:
    return data.decode("latin-1")


def _raw(text: str) -> bytes:
    return text.encode("latin-1")


def selector_to_json(selector: Selector) -> dict[str, Any]:
    return {
        "all_commands": selector.all_commands,
        "commands": list(selector.command_rules),
        "all_keys": selector.all_keys,
        "keys": [[_text(k.pattern), k.read, k.write] for k in selector.keys],
        "all_channels": selector.all_channels,
        "channels": [_text(c) for c in selector.channels],
    }


def selector_from_json(data: dict[str, Any]) -> Selector:
    return Selector(
        all_commands=bool(data["all_commands"]),
        command_rules=tuple(str(r) for r in data["commands"]),
        all_keys=bool(data["all_keys"]),
        keys=tuple(KeyPattern(_raw(p), bool(r), bool(w)) for p, r, w in data["keys"]),
        all_channels=bool(data["all_channels"]),
        channels=tuple(_raw(c) for c in data["channels"]),
    )


def user_to_json(user: User) -> dict[str, Any]:
    return {
        "name": _text(user.name),
        "enabled": user.enabled,
        "nopass": user.nopass,
        "sanitize": user.sanitize,
        "passwords": list(user.passwords),
        "root": selector_to_json(user.root),
        "selectors": [selector_to_json(s) for s in user.selectors],
    }


def user_from_json(data: dict[str, Any]) -> User:
    """Raises KeyError, TypeError or ValueError on a malformed document."""
    sanitize = str(data["sanitize"])
    if sanitize not in ("", "sanitize-payload", "skip-sanitize-payload"):
        raise ValueError(f"bad sanitize flag {sanitize!r}")
    passwords = tuple(str(p) for p in data["passwords"])
    if not all(_HASH.fullmatch(p.encode()) for p in passwords):
        raise ValueError("a stored password is not a SHA-256 hex digest")
    return User(
        _raw(str(data["name"])),
        enabled=bool(data["enabled"]),
        nopass=bool(data["nopass"]),
        sanitize=sanitize,
        passwords=passwords,
        root=selector_from_json(data["root"]),
        selectors=tuple(selector_from_json(s) for s in data["selectors"]),
    )

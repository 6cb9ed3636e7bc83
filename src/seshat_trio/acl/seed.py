"""The users a new cluster starts with: from `requirepass` or from an `aclfile`.

An aclfile is Redis's format, one user per line as ACL LIST prints them
(`user alice on #<sha256> ~app:* +@read`); blank lines and lines starting with `#` are
skipped. Every line is checked as ACL SETUSER would check it, and every problem is
reported with its line number. The default user always exists: as Redis creates it
(`on nopass ~* &* +@all`) unless the file defines it; `requirepass` gives it a password.
"""

from __future__ import annotations

from pathlib import Path

from seshat_trio.acl.rules import (
    DEFAULT_USER,
    AclRuleError,
    AclSyntaxError,
    CommandCheck,
    User,
    apply_rules,
    merge_selector_args,
    new_user,
)


class SeedError(ValueError):
    """Users that cannot be seeded; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def valid_username(name: bytes) -> bool:
    return b" " not in name and b"\0" not in name


def parse_aclfile(text: bytes, origin: str, check: CommandCheck) -> dict[bytes, User]:
    users: dict[bytes, User] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith(b"#"):
            continue
        where = f"{origin}:{number}"
        if words[0] != b"user" or len(words) < 2:
            problems.append(f"{where}: a line must be 'user <name> <rules ...>'")
            continue
        name = words[1]
        if name in users:
            problems.append(f"{where}: duplicate user '{name.decode(errors='replace')}'")
            continue
        try:
            users[name] = apply_rules(new_user(name), merge_selector_args(words[2:]), check)
        except AclRuleError as exc:
            problems.append(f"{where}: {exc.message.removeprefix('ERR ')}")
        except AclSyntaxError as exc:
            problems.append(f"{where}: {exc.message.removeprefix('ERR ')}")
    if problems:
        raise SeedError(problems)
    return users


def seed_users(requirepass: str, aclfile: Path | None, check: CommandCheck) -> dict[bytes, User]:
    """The users to seed; raises SeedError (an unreadable or invalid aclfile)."""
    users: dict[bytes, User] = {}
    if aclfile is not None:
        try:
            text = aclfile.read_bytes()
        except OSError as exc:
            raise SeedError([f"cannot read aclfile {aclfile}: {exc.strerror or exc}"]) from exc
        users = parse_aclfile(text, str(aclfile), check)
    default = users.get(DEFAULT_USER.name, DEFAULT_USER)
    if requirepass:
        default = apply_rules(default, [b">" + requirepass.encode()])
    users[DEFAULT_USER.name] = default
    return users

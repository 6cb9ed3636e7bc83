"""A node's ACL users: seeded from its configuration, then following the system group.

Until the cluster's users are known (a brand-new cluster before its seed is applied), a
node enforces the users its own configuration seeds, which are the ones it proposes: a
node never runs open while its configuration asks for a password. Once the `acl_users`
section exists, it alone counts, on every node; a node whose configuration would have
seeded other users says so in its log (the configuration seeds only a new cluster).
"""

from __future__ import annotations

from collections.abc import Mapping

from seshat_trio.acl.permissions import check_command_rule
from seshat_trio.acl.replicated import SECTION, users_of
from seshat_trio.acl.rules import User
from seshat_trio.acl.seed import seed_users
from seshat_trio.acl.users import UserDirectory
from seshat_trio.commands.permissions import catalog
from seshat_trio.config import Config
from seshat_trio.logs import get_logger
from seshat_trio.system.registry import SystemState

log = get_logger(__name__)


def configured_users(config: Config) -> dict[bytes, User]:
    """The users this node's configuration seeds; raises SeedError (a bad aclfile)."""
    table = catalog()
    return seed_users(
        config.auth.requirepass,
        config.auth.aclfile,
        lambda rule: check_command_rule(rule, table),
    )


class UsersFollower:
    """The system machine's subscriber that keeps a `UserDirectory` on the cluster's users."""

    def __init__(self, directory: UserDirectory, seeds: Mapping[bytes, User]) -> None:
        self._directory = directory
        self._seeds: dict[bytes, User] | None = dict(seeds)

    def __call__(self, state: SystemState, changed: frozenset[str]) -> None:
        if SECTION not in changed:
            return
        users = users_of(state)
        if users is None:
            return
        self._directory.replace(users, from_cluster=True)
        seeds, self._seeds = self._seeds, None  # compared once, with the first users seen
        if seeds is not None and users != seeds:
            log.info(
                "acl_users_from_cluster",
                note="the cluster's users differ from what this node's requirepass/aclfile "
                "would seed; the cluster's are enforced (change them with ACL SETUSER)",
            )

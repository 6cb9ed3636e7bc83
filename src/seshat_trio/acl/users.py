"""This node's view of the cluster's users, and each client connection's authentication.

`UserDirectory` holds the users the system group last applied (until the cluster's users
are known, the ones this node's configuration would seed), compiled against the command
table, and the `ClientAuth` of every connection. When the users change it refreshes every
session at once: a permission taken away applies to the very next command of every client,
and the connections of a deleted user, or of a subscriber whose user lost a channel it is
subscribed to, are closed, as Redis closes them.

`ClientAuth.restricted` is the only thing dispatch reads for a client whose user may run
anything: when it is False (the default user of an open node, or a request forwarded by a
peer, which was checked on the node its client talks to) nothing else is looked at.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping

from seshat_trio.acl.log import AclLog
from seshat_trio.acl.permissions import Catalog, Permissions, compile_user
from seshat_trio.acl.rules import DEFAULT_USER, User
from seshat_trio.acl.throttle import AuthThrottle


class ClientAuth:
    """Who one connection is: its user, whether it authenticated, what that allows."""

    __slots__ = (
        "__weakref__",
        "_directory",
        "auth_required",
        "authenticated",
        "on_revoked",
        "permissions",
        "restricted",
        "subscriptions",
        "username",
    )

    def __init__(self, directory: UserDirectory | None) -> None:
        self._directory = directory
        self.username = DEFAULT_USER.name
        self.authenticated = False
        self.auth_required = False
        self.restricted = False
        self.permissions: Permissions | None = None
        # Called when the user is deleted, or loses a channel its connection is subscribed
        # to (`subscriptions`: channel or pattern, is_pattern): the listener closes it.
        self.on_revoked: Callable[[], None] | None = None
        self.subscriptions: Callable[[], Iterable[tuple[bytes, bool]]] | None = None

    @classmethod
    def trusted(cls) -> ClientAuth:
        """A request a peer forwarded (or a test's client): its user was checked already."""
        return cls(None)

    @property
    def directory(self) -> UserDirectory | None:
        return self._directory

    def refresh(self) -> None:
        """Recompute from the directory (after a login, a RESET or a change of users)."""
        directory = self._directory
        if directory is None:
            return
        default = directory.user(DEFAULT_USER.name)
        open_default = default is not None and default.enabled and default.nopass
        self.auth_required = not self.authenticated and not open_default
        self.permissions = directory.permissions(self.username)
        self.restricted = (
            self.auth_required or self.permissions is None or not self.permissions.unrestricted
        )

    def login(self, username: bytes) -> None:
        self.username = username
        self.authenticated = True
        self.refresh()

    def reset(self) -> None:
        """RESET: back to the default user, authenticated only if it needs no password."""
        self.username = DEFAULT_USER.name
        default = self._directory.user(DEFAULT_USER.name) if self._directory else None
        self.authenticated = default is not None and default.enabled and default.nopass
        self.refresh()


class UserDirectory:
    def __init__(
        self, catalog: Catalog, users: Mapping[bytes, User], throttle: AuthThrottle | None = None
    ) -> None:
        self._catalog = catalog
        # This node's limit on failed logins per client address (none unless given).
        self.throttle = throttle or AuthThrottle(0, 0.0)
        self._users: dict[bytes, User] = {}
        self._permissions: dict[bytes, Permissions] = {}
        self._sessions: weakref.WeakSet[ClientAuth] = weakref.WeakSet()
        self.log = AclLog()
        # Whether `users` are the cluster's yet (not only this node's configured seed).
        self.from_cluster = False
        self.replace(users)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def user(self, name: bytes) -> User | None:
        return self._users.get(name)

    def users(self) -> list[User]:
        return [self._users[name] for name in sorted(self._users)]

    def permissions(self, name: bytes) -> Permissions | None:
        return self._permissions.get(name)

    def replace(self, users: Mapping[bytes, User], *, from_cluster: bool = False) -> None:
        """New users (the cluster's, once it has applied some): enforce them on every
        connection now."""
        self.from_cluster |= from_cluster
        previous = self._users
        self._users = dict(users)
        self._permissions = {
            name: compile_user(user, self._catalog)
            if previous.get(name) != user or name not in self._permissions
            else self._permissions[name]
            for name, user in self._users.items()
        }
        for session in list(self._sessions):
            before = session.permissions
            session.refresh()
            if session.on_revoked is None or session.permissions is before:
                continue
            if session.permissions is None or (
                session.subscriptions is not None
                and not session.permissions.may_keep(session.subscriptions())
            ):
                revoke, session.on_revoked = session.on_revoked, None  # once
                revoke()

    def session(self) -> ClientAuth:
        """A new connection's authentication: the default user, authenticated if that user
        is on and needs no password (as Redis does at connect)."""
        session = ClientAuth(self)
        default = self._users.get(DEFAULT_USER.name)
        session.authenticated = default is not None and default.enabled and default.nopass
        session.refresh()
        self._sessions.add(session)
        return session

    def authenticate(self, name: bytes, password: bytes) -> bool:
        user = self._users.get(name)
        return user is not None and user.accepts(password)

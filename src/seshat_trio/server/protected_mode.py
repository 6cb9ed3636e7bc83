"""Protected mode, as Redis's: an open node answers only clients on the loopback interface.

While `auth.protected_mode` is on and the default user is on and has no password (the
cluster's users, as this node knows them now), a client connecting from any other address
gets `-DENIED` with what to set, and is disconnected. Setting a password for the default
user (on any node: users are cluster state) opens every node to remote clients at once.
"""

from __future__ import annotations

import ipaddress

from seshat_trio.acl.rules import DEFAULT_USER
from seshat_trio.acl.users import UserDirectory
from seshat_trio.config import Address

DENIED = (
    b"-DENIED seshat-trio is running in protected mode because protected mode is enabled and "
    b"no password is set for the default user. In this mode connections are only accepted "
    b"from the loopback interface. If you want to connect from external computers, you may "
    b"adopt one of the following solutions: 1) Set a password for the default user: from the "
    b"loopback interface run ACL SETUSER default on >password (it applies to the whole "
    b"cluster), or start a new cluster with requirepass (--requirepass, "
    b"SESHAT_AUTH_REQUIREPASS) or an aclfile. 2) If the network is trusted, restart the node "
    b"with --no-protected-mode (protected_mode = false in [auth], "
    b"SESHAT_AUTH_PROTECTED_MODE=false). NOTE: You only need to do one of the above things in "
    b"order for the server to start accepting connections from the outside.\r\n"
)


def is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def open_to_everyone(users: UserDirectory) -> bool:
    default = users.user(DEFAULT_USER.name)
    return default is not None and default.enabled and default.nopass


def refused(enabled: bool, users: UserDirectory, peer_host: str) -> bool:
    """Whether protected mode refuses a client connecting from `peer_host`."""
    return enabled and not is_loopback(peer_host) and open_to_everyone(users)


def exposed(enabled: bool, users: UserDirectory, bind: Address) -> bool:
    """Whether a node bound to `bind` will refuse remote clients (worth a warning at start)."""
    return enabled and not is_loopback(bind.host) and open_to_everyone(users)

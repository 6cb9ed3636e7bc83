"""Every module that registers system-group operations, imported here so that a node
knows them all before it applies its first entry (an unknown operation stops the apply).

A feature that adds cluster state registers its operations in its own module and adds one
import line below.
"""

from seshat_trio.acl import replicated  # noqa: F401  (registration)
from seshat_trio.membership import state  # noqa: F401  (registration)
from seshat_trio.pubsub import replicated as pubsub_settings  # noqa: F401  (registration)
from seshat_trio.system import layout  # noqa: F401  (registration)

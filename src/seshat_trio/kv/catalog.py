"""Every module that registers data commands and value types, imported once for its effect.

Adding a value type or a group of commands is one new module plus one line here.
"""

import seshat_trio.kv.zset_algebra  # noqa: F401  registration: sorted sets (kv/zsets.py, which it imports)
from seshat_trio.kv import (  # noqa: F401  (registration)
    expire,
    hashes,
    keyspace,
    lists,
    pure,
    sets,
    strings,
)

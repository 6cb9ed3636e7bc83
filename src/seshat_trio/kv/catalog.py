"""Every module that registers data commands and value types, imported once for its effect.

Adding a value type or a group of commands is one new module plus one line here.
"""

import seshat_trio.kv.zset_algebra  # registration: sorted sets (and kv/zsets.py)
import seshat_trio.kv.zset_pops  # noqa: F401
from seshat_trio.kv import (  # noqa: F401  (registration)
    expire,
    hashes,
    keyspace,
    lists,
    pure,
    sets,
    strings,
)

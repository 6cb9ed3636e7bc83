"""ValueCache: encoded values by LevelDB key, bounded in bytes, in front of the store's reads.

Every write command reads the key's current value while it is applied (for its reply, its
options, the key count), on all three nodes, and a LevelDB lookup plus decoding costs several
microseconds there. The cache holds what was recently written or read, including "absent".

Coherence, given the store's threading (store.py): entries are keyed by the full LevelDB key,
which holds the value generation, so a FLUSHALL or a snapshot install makes old entries
unreachable (and `clear` frees them). Published writes `put`, which replaces, or `forget`
(records written uncached: those only range scans read). Every `put`, `forget` and `clear`
bumps the version; a read captures it before its LevelDB lookup and `fill`s only if
it is unchanged after (and only an empty slot), so a read that raced a write on another
thread never hides the write's value, even one the cache did not keep (too large, or
evicted at once). On one thread nothing runs between a read's lookup and its fill, so no
fill is lost to the check.

Entries are the encoded records, not `StoredValue` objects: bytes are not tracked by Python's
cyclic garbage collector, whereas 200k cached objects made each full collection ~30 ms longer
(a latency spike on every node); decoding a hit costs ~0.6 us.

Complete prefixes: the store may declare a key prefix *complete* (`complete`): every record
stored under it is in the cache, so a miss there means "absent" and costs no LevelDB read.
It does so for a group's metadata records when the group holds no value (a new store, a
FLUSHALL): from then on every write of them comes through `put_all`. Completeness ends, for
every prefix, before anything leaves the cache or is not kept (an eviction, a record too
large, a `forget` under the prefix, a `clear`), and a lookup asks about it after its
dictionary read: a reader on another thread that misses an entry being evicted then sees
the prefix incomplete and reads LevelDB. A dataset that fits the budget is thus read from
LevelDB never (a SET of a new key asks the cache, not LevelDB, whether the key existed).

Eviction is first-in, first-out over insertion order (a write re-inserts its key at the end).
An OrderedDict, because a dict deleted from the front leaves holes that `next(iter(...))`
walks past: eviction from a full dict cost O(size) per insert.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Iterable

# Rough per-entry cost beyond the key and record bytes: the dict slot and the headers of
# two bytes objects. Only the order of magnitude matters for the budget.
ENTRY_OVERHEAD = 100


class Missing(enum.Enum):
    MISSING = enum.auto()


MISSING = Missing.MISSING


def entry_size(key: bytes, record: bytes | None) -> int:
    return len(key) + (0 if record is None else len(record)) + ENTRY_OVERHEAD


class ValueCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, bytes | None] = OrderedDict()
        self._bytes = 0
        self._version = 0
        # Prefixes under which every stored record is cached (see the module doc).
        self._complete: set[bytes] = set()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def version(self) -> int:
        """Changes with every put and clear; a read captures it before its LevelDB lookup."""
        return self._version

    def complete(self, prefix: bytes) -> None:
        """Every record stored under `prefix` is in the cache (the store's word): a miss
        under it answers None until completeness ends (see the module doc)."""
        if self.max_bytes > 0:
            self._complete.add(prefix)

    def is_complete(self, prefix: bytes) -> bool:
        """Whether a miss under `prefix` means absent; ask after the lookup it qualifies."""
        return prefix in self._complete

    def get(self, key: bytes, prefix: bytes | None = None) -> bytes | Missing | None:
        """The record of `key`; a miss answers None if `key` is under `prefix` (the caller's
        word) and `prefix` is complete."""
        record = self._entries.get(key, MISSING)
        if record is MISSING and prefix in self._complete:
            record = None
        if record is MISSING:
            self.misses += 1
        else:
            self.hits += 1
        return record

    def peek_all(self, keys: list[bytes]) -> list[bytes | Missing | None]:
        """`get` of each key, in one call (an apply run's written keys), without counting
        (the caller counts its lookups with `count`)."""
        get = self._entries.get
        return [get(key, MISSING) for key in keys]

    def count(self, hits: int, misses: int) -> None:
        self.hits += hits
        self.misses += misses

    def put(self, key: bytes, record: bytes | None) -> None:
        """A written record (None: deleted); replaces any entry."""
        self.put_all(((key, record),))

    def put_all(self, written: Iterable[tuple[bytes, bytes | None]]) -> None:
        """`put` of each written record, in order (a write's records: one call, locals
        bound, as every record of every write comes here)."""
        self._version += 1
        entries, limit, delta = self._entries, self.max_bytes, 0
        pop = entries.pop
        for key, record in written:
            size = len(key) + (0 if record is None else len(record)) + ENTRY_OVERHEAD
            if size > limit:
                self._complete.clear()  # before the old entry goes: it is not replaced
            old = pop(key, MISSING)  # `_discard`, inlined
            if old is not MISSING:
                delta -= len(key) + (0 if old is None else len(old)) + ENTRY_OVERHEAD
            if size <= limit:  # `_insert`, inlined, evicting once after the loop
                entries[key] = record
                delta += size
        self._bytes += delta  # one update, as a fill on another thread may add its own
        self._evict()

    def forget(self, keys: Iterable[bytes]) -> None:
        """Drop any entry of `keys`: records written without being cached."""
        self._version += 1
        keys = list(keys)
        if self._complete and any(key.startswith(tuple(self._complete)) for key in keys):
            self._complete.clear()
        discard = self._discard
        for key in keys:
            discard(key)

    def fill(self, key: bytes, record: bytes | None, version: int) -> None:
        """A record read from LevelDB when the version was `version`; never replaces an entry."""
        if self._version != version or key in self._entries:
            return
        self._insert(key, record)
        if self._version != version:
            # A put or clear slipped in between the check and the insert (another thread).
            self._complete.clear()
            self._discard(key)

    def clear(self) -> None:
        self._version += 1
        self._complete.clear()
        self._entries.clear()
        self._bytes = 0

    def _discard(self, key: bytes) -> None:
        old = self._entries.pop(key, MISSING)
        if old is not MISSING:
            self._bytes -= entry_size(key, old)

    def _insert(self, key: bytes, record: bytes | None) -> None:
        size = len(key) + (0 if record is None else len(record)) + ENTRY_OVERHEAD  # entry_size
        if size > self.max_bytes:
            self._complete.clear()
            return
        self._entries[key] = record
        self._bytes += size
        self._evict()

    def _evict(self) -> None:
        """Drop the oldest entries until the cache is within its budget."""
        if self._bytes > self.max_bytes:
            self._complete.clear()  # before the first entry goes
        while self._bytes > self.max_bytes:
            try:
                oldest, evicted = self._entries.popitem(last=False)
            except KeyError:  # another thread cleared it under us (see the module doc)
                break
            self._bytes -= entry_size(oldest, evicted)

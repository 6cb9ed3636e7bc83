# Records persisted by seshat-trio's storage layer (src/seshat_trio/storage).
#
# Rules: every struct carries `version` (the record format version it was written with);
# a reader refuses a record whose version is newer than it supports. Fields are only ever
# added at the end with new ordinals; ordinals are never reused or renumbered.

@0xc3a1f2e4b5d60718;

# The store-level meta record, written once when a store is created.
struct StoreMeta {
  version @0 :UInt16;         # store format version
}

# One Raft log entry. `kind` is opaque to storage.
struct LogRecord {
  version @0 :UInt16;
  index @1 :UInt64;
  term @2 :UInt64;
  kind @3 :UInt16;
  data @4 :Data;
}

# Raft hard state; vote 0 means "no vote".
struct HardState {
  version @0 :UInt16;
  term @1 :UInt64;
  vote @2 :UInt64;
  commit @3 :UInt64;
}

# What the latest snapshot of a group covers.
struct SnapshotMeta {
  version @0 :UInt16;
  index @1 :UInt64;
  term @2 :UInt64;
  voters @3 :List(UInt64);
  learners @4 :List(UInt64);
}

# A user value. kind 0 = string; expiresAtMs 0 = no expiry.
# This capnp form is record version 1, still read. Since version 2 values are written as
# a fixed header instead (storage/records.py, VALUE_VERSION; docs/storage.md), with the
# same fields in the same types.
struct StoredValue {
  version @0 :UInt16;
  kind @1 :UInt16;
  data @2 :Data;
  expiresAtMs @3 :UInt64;
}

# A single counter kept in a *_raft_state keyspace: the applied index, or the
# generation of a group's value keyspace (see docs/storage.md, "Snapshot install").
struct Counter {
  version @0 :UInt16;
  value @1 :UInt64;
}

# Node-to-node wire schema of seshat-trio (src/seshat_trio/transport; spec: docs/protocol.md).
#
# Every frame on an internal connection is a 4-byte big-endian length followed by one
# unpacked Cap'n Proto message whose root is `Envelope`. The first frame in each direction
# is a `hello`.
#
# Evolution rules: fields and union members are only ever added at the end with new
# ordinals; ordinals are never reused or renumbered. A change the other side cannot ignore
# bumps `protocolVersion`.
#
# Integers: node ids, groups, terms, indexes, offsets, request ids are UInt64.
# Batches of log entries and forwarded commands travel as ONE `Data` blob each with a
# struct-framed inner layout (see docs/protocol.md, "Inner framings"): a capnp
# List(Entry) costs ~2 us per element to read in pycapnp, the blob ~5x less.

@0xb7e4c2a9d3f15068;

const protocolVersion :UInt16 = 2;
const helloMagic :UInt32 = 0x53455348;  # "SESH"

struct Hello {
  magic @0 :UInt32;            # helloMagic; anything else is not a seshat-trio peer
  protocolVersion @1 :UInt16;  # must equal the receiver's protocolVersion
  nodeId @2 :UInt64;           # the sender's node id (> 0)
  peerId @3 :UInt64;           # the node id the sender believes it is talking to
  clientAddr @4 :Text;         # the sender's RESP address "host:port" (MOVED, INFO raft)
  nonce @5 :Data;              # 32 fresh random bytes (protocol 2)
  proofs @6 :List(Data);       # dialler only: HMAC proofs of the cluster secret(s)
  features @7 :UInt64;         # optional messages the sender understands (bit 0: publish)
  clientTlsPort @8 :UInt16;    # the sender's TLS client port, 0: none (features bit 3)
}

struct HelloAuth {
  proof @0 :Data;              # the acceptor's HMAC proof under the secret it shares with the dialler
}

struct SnapshotMeta {
  index @0 :UInt64;
  term @1 :UInt64;
  voters @2 :List(UInt64);
  learners @3 :List(UInt64);
}

struct PreVote {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  lastLogIndex @4 :UInt64;
  lastLogTerm @5 :UInt64;
}

struct PreVoteResp {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  granted @4 :Bool;
}

struct Vote {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  lastLogIndex @4 :UInt64;
  lastLogTerm @5 :UInt64;
  forced @6 :Bool;
}

struct VoteResp {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  granted @4 :Bool;
}

struct Append {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  prevIndex @4 :UInt64;
  prevTerm @5 :UInt64;
  commit @6 :UInt64;
  entries @7 :Data;            # entry batch, inner framing "entries v1"
}

struct AppendResp {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  success @4 :Bool;
  index @5 :UInt64;
  hintIndex @6 :UInt64;
  hintTerm @7 :UInt64;
}

struct Heartbeat {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  commit @4 :UInt64;
  context @5 :UInt64;
}

struct HeartbeatResp {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  context @4 :UInt64;
}

struct Snapshot {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  meta @4 :SnapshotMeta;
}

struct SnapshotChunk {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  meta @4 :SnapshotMeta;
  offset @5 :UInt64;
  data @6 :Data;
  last @7 :Bool;
}

struct SnapshotChunkAck {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  metaIndex @4 :UInt64;
  offset @5 :UInt64;
  ok @6 :Bool;
}

struct TimeoutNow {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
}

struct ReadIndexReq {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  requestIds @4 :List(UInt64);
}

struct ReadIndexResp {
  group @0 :UInt64;
  src @1 :UInt64;
  dst @2 :UInt64;
  term @3 :UInt64;
  requestIds @4 :List(UInt64);
  index @5 :UInt64;
  ok @6 :Bool;
}

struct ForwardRequest {
  requestId @0 :UInt64;
  protocol @1 :UInt8;          # RESP protocol version of the client (2 or 3)
  commands @2 :Data;           # client commands, inner framing "commands v1"
  group @3 :UInt64;            # the data group the sender routed the commands to
}

struct ForwardReply {
  requestId @0 :UInt64;
  payload @1 :Data;            # RESP-encoded replies, one per command, concatenated
}

struct ForwardError {
  requestId @0 :UInt64;
  reason @1 :Text;             # why the receiver could not execute the request
}

struct Publish {
  requestId @0 :UInt64;        # 0: no receiver count wanted; else answered by PublishCount
  channel @1 :Data;
  message @2 :Data;
  shard @3 :Bool;              # a shard channel (SPUBLISH), not a global one
}

struct PublishCount {
  requestId @0 :UInt64;        # the Publish it answers
  receivers @1 :UInt64;        # subscribers on the answering node that received it
}

# Coalesced Heartbeat / HeartbeatResp messages of many groups (blobs.py: beats v1, acks v1).
struct HeartbeatBatch {
  src @0 :UInt64;
  dst @1 :UInt64;
  beats @2 :Data;              # per heartbeat: u64 group, term, commit, context
  acks @3 :Data;               # per response: u64 group, term, context
}

# Raft messages (not heartbeats, not snapshot chunks) of many groups for one peer, each an
# encoded Envelope (blobs.py: frames v1); the receiver refuses anything else inside.
struct RaftBatch {
  src @0 :UInt64;
  dst @1 :UInt64;
  frames @2 :Data;             # per message: u32 len, len bytes of Envelope
}

struct Envelope {
  union {
    hello @0 :Hello;
    preVote @1 :PreVote;
    preVoteResp @2 :PreVoteResp;
    vote @3 :Vote;
    voteResp @4 :VoteResp;
    append @5 :Append;
    appendResp @6 :AppendResp;
    heartbeat @7 :Heartbeat;
    heartbeatResp @8 :HeartbeatResp;
    snapshot @9 :Snapshot;
    snapshotChunk @10 :SnapshotChunk;
    snapshotChunkAck @11 :SnapshotChunkAck;
    timeoutNow @12 :TimeoutNow;
    readIndexReq @13 :ReadIndexReq;
    readIndexResp @14 :ReadIndexResp;
    forwardRequest @15 :ForwardRequest;
    forwardReply @16 :ForwardReply;
    forwardError @17 :ForwardError;
    helloAuth @18 :HelloAuth;
    publish @19 :Publish;            # only to peers whose Hello has features bit 0
    publishCount @20 :PublishCount;
    heartbeatBatch @21 :HeartbeatBatch;  # only to peers whose Hello has features bit 1
    raftBatch @22 :RaftBatch;            # only to peers whose Hello has features bit 2
  }
}

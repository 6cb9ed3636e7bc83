"""The configuration model: frozen attrs classes, one per section, plus addresses and members.

Every setting is an attrs field built with `doc()` metadata, which records its help text (and,
rarely, a CLI flag that differs from the key) in the field metadata. The settings registry,
the CLI flags, the environment variable names and the reference docs are all derived from
these classes, so a new key is added in exactly one place.

This module does no I/O; loading and validation live in `sources`, `parse` and `validate`.
"""

from enum import StrEnum
from pathlib import Path
from typing import Self

import attrs

MAX_PORT = 65535
# Every data group costs each node a driver and its ticks: far more would only add load.
MAX_DATA_GROUPS = 1024


def doc(help: str, flag: str | None = None) -> dict[str, str | None]:
    """Field metadata of a configuration key; `flag` overrides the derived CLI flag."""
    return {"help": help, "flag": flag}


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class LogFormat(StrEnum):
    KV = "kv"
    JSON = "json"


class Redirect(StrEnum):
    """What a node does with a key whose data group another node leads."""

    FORWARD = "forward"
    MOVED = "moved"


class ReadMode(StrEnum):
    """How a leader proves it is still the leader before serving a read."""

    READINDEX = "readindex"
    LEASE = "lease"


class TlsAuthClients(StrEnum):
    """Whether TLS clients must present a certificate signed by tls_ca_cert_file."""

    YES = "yes"
    NO = "no"
    OPTIONAL = "optional"


@attrs.frozen
class Address:
    """A TCP endpoint; IPv6 hosts are written in brackets: `[::1]:7379`."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse `host:port`; raises ValueError naming what is wrong."""
        host, sep, port_text = text.strip().rpartition(":")
        if not sep or not host:
            raise ValueError(f"invalid address {text!r}: expected host:port")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host or any(ch.isspace() for ch in host) or ("[" in host or "]" in host):
            raise ValueError(f"invalid address {text!r}: bad host {host!r}")
        if not port_text.isdecimal():
            raise ValueError(f"invalid address {text!r}: port {port_text!r} is not a number")
        port = int(port_text)
        if port > MAX_PORT:
            raise ValueError(f"invalid address {text!r}: port {port} out of range 0-{MAX_PORT}")
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@attrs.frozen
class Member:
    """One voter of the initial cluster: its node id and internal (Raft) address."""

    id: int
    address: Address

    def __str__(self) -> str:
        return f"{self.id}={self.address}"


def _default_data_dir(node: "NodeSection") -> Path:
    return Path("data") / f"node-{node.id}"


@attrs.frozen
class NodeSection:
    id: int = attrs.field(metadata=doc("this node's id; unique in the cluster, > 0", "--node-id"))
    data_dir: Path = attrs.field(
        default=attrs.Factory(_default_data_dir, takes_self=True),
        metadata=doc("directory for the node's LevelDB store; created if missing"),
    )
    client_addr: Address = attrs.field(
        default=Address("127.0.0.1", 6379), metadata=doc("RESP (Redis protocol) listen address")
    )
    internal_addr: Address = attrs.field(
        default=Address("127.0.0.1", 7379), metadata=doc("node-to-node (Raft) listen address")
    )
    http_addr: Address = attrs.field(
        default=Address("127.0.0.1", 8080), metadata=doc("HTTP status and metrics listen address")
    )
    http_max_connections: int = attrs.field(
        default=32,
        metadata=doc(
            "admin HTTP connections at once; at the cap the one waiting longest for its "
            "request head is closed"
        ),
    )
    http_header_timeout_ms: int = attrs.field(
        default=2_000, metadata=doc("an admin HTTP request head must arrive within this")
    )
    metrics_token_file: Path | None = attrs.field(
        default=None,
        metadata=doc("file holding the bearer token /metrics requires (none: no token)"),
    )
    log_level: LogLevel = attrs.field(default=LogLevel.INFO, metadata=doc("lowest level logged"))
    log_format: LogFormat = attrs.field(
        default=LogFormat.KV, metadata=doc("log line format: key=value (logfmt) or one JSON object")
    )
    memory_trace_s: int = attrs.field(
        default=0,
        metadata=doc(
            "debugging: every this many seconds, log the source lines whose Python "
            "allocations grew most (tracemalloc; costs CPU; 0: off)"
        ),
    )


@attrs.frozen
class ClusterSection:
    bootstrap: bool = attrs.field(
        default=False, metadata=doc("form a new cluster from initial_members (first start only)")
    )
    initial_members: tuple[Member, ...] = attrs.field(
        default=(),
        metadata=doc("voters of a new cluster: id=host:port of each node's internal_addr"),
    )
    data_groups: int = attrs.field(
        default=1,
        metadata=doc("Raft groups the hash slots are split over (read when a cluster is founded)"),
    )
    join: Address | None = attrs.field(
        default=None,
        metadata=doc(
            "client address (host:port) of any member: a node with an empty data directory "
            "asks that cluster to add it (docs/operations.md)",
            "--join",
        ),
    )
    redirect: Redirect = attrs.field(
        default=Redirect.FORWARD,
        metadata=doc(
            "a key whose group another node leads: forward to that leader, or reply -MOVED "
            "as Redis Cluster"
        ),
    )
    read_mode: ReadMode = attrs.field(
        default=ReadMode.READINDEX,
        metadata=doc("linearizable reads by ReadIndex (a heartbeat round) or by leader lease"),
    )
    secret_file: Path | None = attrs.field(
        default=None,
        metadata=doc(
            "file holding the cluster secret that peers prove to each other (one per line, "
            "current first; two during a rotation); required unless internal_addr is loopback",
            "--cluster-secret-file",
        ),
    )


@attrs.frozen
class RaftSection:
    heartbeat_ms: int = attrs.field(default=100, metadata=doc("leader heartbeat interval"))
    election_timeout_min_ms: int = attrs.field(
        default=500, metadata=doc("lower bound of the random election timeout")
    )
    election_timeout_max_ms: int = attrs.field(
        default=1000, metadata=doc("upper bound of the random election timeout")
    )
    snapshot_entries: int = attrs.field(
        default=10_000, metadata=doc("snapshot after this many applied entries")
    )
    snapshot_bytes: int = attrs.field(
        default=100_000_000,
        metadata=doc("snapshot after this many bytes of log since the last one"),
    )
    max_append_bytes: int = attrs.field(
        default=1_048_576, metadata=doc("largest AppendEntries payload")
    )
    max_inflight: int = attrs.field(
        default=256, metadata=doc("AppendEntries in flight per follower")
    )
    snapshot_chunk_bytes: int = attrs.field(
        default=1_048_576, metadata=doc("InstallSnapshot chunk size")
    )


#: A follower's forwarded run of writes is cut before its frame would exceed this many
#: bytes; one write alone may exceed it (up to max_write_bytes plus its framing), and either
#: way the request fits the 16 MiB frame limit.
FORWARD_REQUEST_BUDGET = 8 << 20


@attrs.frozen
class LimitsSection:
    max_key_bytes: int = attrs.field(default=256, metadata=doc("longest key accepted"))
    max_value_bytes: int = attrs.field(
        default=4_194_304, metadata=doc("longest value accepted by a write")
    )
    max_clients: int = attrs.field(default=10_000, metadata=doc("simultaneous client connections"))
    request_timeout_ms: int = attrs.field(
        default=30_000, metadata=doc("a request not answered by then fails")
    )
    max_bulk_len: int = attrs.field(
        default=536_870_912, metadata=doc("longest RESP bulk string parsed")
    )
    max_multibulk_len: int = attrs.field(
        default=1_048_576, metadata=doc("most elements in one RESP array")
    )
    max_inline_len: int = attrs.field(
        default=65_536, metadata=doc("longest inline (telnet-style) command")
    )
    max_request_bytes: int = attrs.field(
        default=4_259_840,
        metadata=doc("largest request (its arguments together) a client may send"),
    )
    max_write_bytes: int = attrs.field(
        default=4_259_840,
        metadata=doc("largest write command or MULTI/EXEC transaction, as stored in the log"),
    )
    request_read_timeout_ms: int = attrs.field(
        default=60_000,
        metadata=doc("a request whose first bytes arrived must arrive whole by then (0: never)"),
    )

    @property
    def request_timeout_s(self) -> float:
        return self.request_timeout_ms / 1000


@attrs.frozen
class StorageSection:
    block_cache_bytes: int = attrs.field(
        default=33_554_432, metadata=doc("LevelDB block cache (uncompressed table blocks)")
    )
    value_cache_bytes: int = attrs.field(
        default=335_544_320,
        metadata=doc("value records kept in memory for reads and applies; 0 turns it off"),
    )
    write_buffer_bytes: int = attrs.field(
        default=33_554_432,
        metadata=doc(
            "LevelDB memtable: writes held in memory before they go to a table file (twice "
            "this while one is written)"
        ),
    )


@attrs.frozen
class RedisSection:
    """Settings under their redis.conf names (dashes become underscores), in Redis's
    syntax; CONFIG GET and CONFIG SET read and change them while the node runs."""

    client_output_buffer_limit: str = attrs.field(
        default="normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        metadata=doc(
            "per client class: hard limit, soft limit and soft seconds of unread output, as "
            "redis.conf (a client over it is disconnected)"
        ),
    )
    notify_keyspace_events: str = attrs.field(
        default="", metadata=doc("keyspace notification classes, as redis.conf (e.g. KEA)")
    )
    timeout: str = attrs.field(
        default="0", metadata=doc("close a client idle for this many seconds (0: never)")
    )
    maxmemory: str = attrs.field(
        default="0",
        metadata=doc("accounted memory above which writes get -OOM (0: no limit), e.g. 2gb"),
    )
    maxmemory_policy: str = attrs.field(
        default="noeviction", metadata=doc("what happens at maxmemory: only noeviction")
    )
    maxmemory_clients: str = attrs.field(
        default="256mb",
        metadata=doc(
            "input all clients may buffer together, or a percentage of maxmemory; over it "
            "the largest are closed (0: no cap)"
        ),
    )


@attrs.frozen
class PubSubSection:
    publish_wait_ms: int = attrs.field(
        default=100,
        metadata=doc(
            "how long PUBLISH waits for the other nodes' receiver counts (0: count this "
            "node's receivers only)"
        ),
    )


@attrs.frozen
class AuthSection:
    requirepass: str = attrs.field(
        default="",
        repr=False,
        metadata=doc(
            "password of the default user of a new cluster; afterwards users are cluster "
            "state (ACL SETUSER)"
        ),
    )
    aclfile: Path | None = attrs.field(
        default=None,
        metadata=doc("users of a new cluster, in Redis's aclfile format (ACL LIST lines)"),
    )
    protected_mode: bool = attrs.field(
        default=True,
        metadata=doc(
            "while the default user has no password, refuse clients not on the loopback interface"
        ),
    )
    max_auth_failures: int = attrs.field(
        default=10,
        metadata=doc(
            "failed logins (AUTH, HELLO AUTH) one client address may make within "
            "auth_failure_window_ms before its further attempts are refused (0: no limit; "
            "loopback clients are never limited)"
        ),
    )
    auth_failure_window_ms: int = attrs.field(
        default=60_000,
        metadata=doc(
            "the window max_auth_failures counts over: a refused client may try again once "
            "the oldest of its failures in it is this old"
        ),
    )


@attrs.frozen
class TlsSection:
    tls_port: int = attrs.field(
        default=0,
        metadata=doc("TLS client port, on the host of node.client_addr; 0: no TLS listener"),
    )
    tls_cert_file: Path | None = attrs.field(
        default=None, metadata=doc("the node's certificate chain (PEM), for tls_port")
    )
    tls_key_file: Path | None = attrs.field(
        default=None, metadata=doc("the private key of tls_cert_file (PEM)")
    )
    tls_ca_cert_file: Path | None = attrs.field(
        default=None, metadata=doc("CA certificates (PEM) that client certificates must chain to")
    )
    tls_auth_clients: TlsAuthClients = attrs.field(
        default=TlsAuthClients.YES,
        metadata=doc("require (yes), accept (optional) or ignore (no) client certificates"),
    )


@attrs.frozen
class Config:
    """A complete, validated node configuration (see docs/configuration.md)."""

    node: NodeSection
    cluster: ClusterSection = ClusterSection()
    raft: RaftSection = RaftSection()
    limits: LimitsSection = LimitsSection()
    storage: StorageSection = StorageSection()
    redis: RedisSection = RedisSection()
    pubsub: PubSubSection = PubSubSection()
    auth: AuthSection = AuthSection()
    tls: TlsSection = TlsSection()

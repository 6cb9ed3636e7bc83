"""Checks that need more than one value, or the file system, once each section has a type.

Each check yields `Problem`s and never stops early, so an operator sees everything wrong
with a configuration at once. `check_data_dir` creates the directory as its proof, so the
loader runs it only for an otherwise valid configuration.
"""

import ipaddress
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from seshat_trio.config.errors import Problem
from seshat_trio.config.model import (
    MAX_DATA_GROUPS,
    MAX_PORT,
    Address,
    AuthSection,
    ClusterSection,
    LimitsSection,
    NodeSection,
    PubSubSection,
    RaftSection,
    ReadMode,
    RedisSection,
    StorageSection,
    TlsAuthClients,
    TlsSection,
)
from seshat_trio.config.secret_file import read_secrets, read_token
from seshat_trio.memory_settings import (
    parse_clients_cap,
    parse_memory,
    parse_policy,
    parse_timeout,
)
from seshat_trio.output_limits import OutputLimitError, parse_output_limits
from seshat_trio.pubsub.notify import parse_flags
from seshat_trio.raft.config import RaftConfig

PROBE_NAME = ".seshat-write-probe"


def check_node(node: NodeSection) -> Iterator[Problem]:
    if node.id <= 0:
        yield Problem("node.id", f"must be > 0, got {node.id}")
    for key in ("http_max_connections", "http_header_timeout_ms"):
        if (value := getattr(node, key)) <= 0:
            yield Problem(f"node.{key}", f"must be > 0, got {value}")
    if node.memory_trace_s < 0:
        yield Problem("node.memory_trace_s", f"must be >= 0, got {node.memory_trace_s}")
    if node.metrics_token_file is not None:
        try:
            read_token(node.metrics_token_file)
        except ValueError as exc:
            yield Problem("node.metrics_token_file", str(exc))


def check_cluster(cluster: ClusterSection, node: NodeSection | None) -> Iterator[Problem]:
    """Member list checks; `node` is None when the node section itself was invalid."""
    if not 1 <= cluster.data_groups <= MAX_DATA_GROUPS:
        yield Problem(
            "cluster.data_groups", f"must be 1-{MAX_DATA_GROUPS}, got {cluster.data_groups}"
        )
    key = "cluster.initial_members"
    members = cluster.initial_members
    if cluster.bootstrap and not members:
        yield Problem(key, "required when cluster.bootstrap is true")
    if cluster.bootstrap and cluster.join is not None:
        yield Problem("cluster.join", "a node either founds a cluster (bootstrap) or joins one")
    for node_id, count in Counter(m.id for m in members).items():
        if count > 1:
            yield Problem(key, f"duplicate member id {node_id}")
    sharing: defaultdict[Address, list[int]] = defaultdict(list)
    for member in members:
        sharing[member.address].append(member.id)
    for address, ids in sharing.items():
        if len(ids) > 1:
            listed = ", ".join(map(str, ids))
            yield Problem(key, f"members {listed} share the address {address}")
    if node is None or not members:
        return
    mine = [m for m in members if m.id == node.id]
    # A restarted or joining node may legitimately be absent: membership then comes from
    # its stored state or from the leader. Only a bootstrapping node must be listed.
    if cluster.bootstrap and not mine:
        listed = ", ".join(str(m.id) for m in members)
        yield Problem(key, f"this node (node.id {node.id}) is not among the members ({listed})")
    for member in mine[:1]:
        if member.address != node.internal_addr:
            yield Problem(
                "node.internal_addr",
                f"{node.internal_addr} differs from this node's address in {key} "
                f"({member.address})",
            )


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` ("localhost" or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_cluster_secret(cluster: ClusterSection, node: NodeSection | None) -> Iterator[Problem]:
    """The secret file must be readable and valid; without one, peers are not authenticated,
    which is refused on any internal address other than loopback."""
    key = "cluster.secret_file"
    if cluster.secret_file is not None:
        try:
            read_secrets(cluster.secret_file)
        except ValueError as exc:
            yield Problem(key, str(exc))
    elif node is not None and not is_loopback(node.internal_addr.host):
        yield Problem(
            key,
            f"required when node.internal_addr ({node.internal_addr}) is not a loopback "
            "address: without a cluster secret anyone who reaches that port can act as a "
            "member (see docs/security.md)",
        )


#: Limits where 0 turns the limit off.
ZERO_MEANS_OFF = frozenset({"request_read_timeout_ms"})


def _positive(section: RaftSection | LimitsSection, name: str) -> Iterator[Problem]:
    for field in attrs.fields(type(section)):
        value = getattr(section, field.name)
        if not isinstance(value, int):
            continue
        if field.name in ZERO_MEANS_OFF:
            if value < 0:
                yield Problem(f"{name}.{field.name}", f"must be >= 0 (0: off), got {value}")
        elif value <= 0:
            yield Problem(f"{name}.{field.name}", f"must be > 0, got {value}")


#: Log records are decoded with an 8 MiB bound, and node-to-node frames are at most 16 MiB:
#: a write, an AppendEntries batch (which may end with one write that overshoots it) and a
#: snapshot chunk must each stay well inside them.
MAX_WRITE_BYTES = 7 << 20
MAX_APPEND_BYTES = 8 << 20
MAX_SNAPSHOT_CHUNK_BYTES = 8 << 20
LOG_RECORD_REASON = "a log record is decoded with an 8 MiB bound"
FRAME_REASON = "node-to-node frames are at most 16 MiB"
# SET, key, value: the command name and three length prefixes.
SET_OVERHEAD_BYTES = 2 + 3 * 4 + 3


def _at_most(
    section: RaftSection | LimitsSection, name: str, field: str, ceiling: int, why: str
) -> Iterator[Problem]:
    value = getattr(section, field)
    if value > ceiling:
        yield Problem(f"{name}.{field}", f"must be at most {ceiling} ({why}), got {value}")


def check_raft(raft: RaftSection) -> Iterator[Problem]:
    yield from _positive(raft, "raft")
    yield from _at_most(raft, "raft", "max_append_bytes", MAX_APPEND_BYTES, FRAME_REASON)
    yield from _at_most(
        raft, "raft", "snapshot_chunk_bytes", MAX_SNAPSHOT_CHUNK_BYTES, FRAME_REASON
    )
    # A follower must hear at least two heartbeats before it may start an election, or a
    # single delayed heartbeat deposes a healthy leader.
    floor = 2 * raft.heartbeat_ms
    if raft.election_timeout_min_ms < floor:
        yield Problem(
            "raft.election_timeout_min_ms",
            f"must be at least 2 x raft.heartbeat_ms = {floor}, got {raft.election_timeout_min_ms}",
        )
    # The timeout is drawn from [min, max); an empty range makes every node time out
    # together and split the vote forever.
    if raft.election_timeout_max_ms <= raft.election_timeout_min_ms:
        yield Problem(
            "raft.election_timeout_max_ms",
            f"must be greater than raft.election_timeout_min_ms "
            f"({raft.election_timeout_min_ms}), got {raft.election_timeout_max_ms}",
        )


def check_lease(cluster: ClusterSection, raft: RaftSection) -> Iterator[Problem]:
    """Lease reads need an election timeout that leaves a lease of at least one heartbeat
    after the margins for late ticks and clock drift (docs/raft.md, "Lease reads")."""
    if cluster.read_mode is not ReadMode.LEASE or raft.heartbeat_ms <= 0:
        return
    ticks = raft.election_timeout_min_ms // raft.heartbeat_ms
    if ticks < 2 or RaftConfig(group=1, node_id=1, election_ticks_min=ticks).lease_ticks < 1:
        yield Problem(
            "raft.election_timeout_min_ms",
            f"is too short for cluster.read_mode = lease: {raft.election_timeout_min_ms} ms "
            f"({ticks} heartbeats) leaves no lease; use at least "
            f"{3 * raft.heartbeat_ms} ms or read_mode = readindex",
        )


def check_limits(limits: LimitsSection) -> Iterator[Problem]:
    yield from _positive(limits, "limits")
    yield from _at_most(limits, "limits", "max_write_bytes", MAX_WRITE_BYTES, LOG_RECORD_REASON)
    if limits.max_request_bytes < limits.max_write_bytes:
        yield Problem(
            "limits.max_request_bytes",
            f"must be at least limits.max_write_bytes ({limits.max_write_bytes}), "
            f"got {limits.max_request_bytes}",
        )
    smallest = limits.max_key_bytes + limits.max_value_bytes + SET_OVERHEAD_BYTES
    if limits.max_write_bytes < smallest:
        yield Problem(
            "limits.max_write_bytes",
            f"must be at least {smallest} (a SET of a key of limits.max_key_bytes and a value "
            f"of limits.max_value_bytes), got {limits.max_write_bytes}",
        )
    if limits.max_value_bytes > limits.max_bulk_len:
        yield Problem(
            "limits.max_value_bytes",
            f"must not exceed limits.max_bulk_len ({limits.max_bulk_len}), "
            f"got {limits.max_value_bytes}",
        )


def check_data_dir(path: Path) -> Problem | None:
    """Create `path` if needed and prove it writable by writing and removing a probe file."""
    key = "node.data_dir"
    if path.exists() and not path.is_dir():
        return Problem(key, f"{path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Problem(key, f"cannot create {path}: {exc.strerror or exc}")
    probe = path / PROBE_NAME
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return Problem(key, f"{path} is not writable: {exc.strerror or exc}")
    return None


def check_storage(storage: StorageSection) -> Iterator[Problem]:
    for key in ("block_cache_bytes", "write_buffer_bytes"):
        if (value := getattr(storage, key)) <= 0:
            yield Problem(f"storage.{key}", f"must be > 0, got {value}")
    if storage.value_cache_bytes < 0:
        yield Problem("storage.value_cache_bytes", f"must be >= 0, got {storage.value_cache_bytes}")


def check_redis(redis: RedisSection) -> Iterator[Problem]:
    for key, parse in _MEMORY_SETTINGS.items():
        try:
            parse(getattr(redis, key))
        except ValueError as exc:
            yield Problem(f"redis.{key}", str(exc))
    try:
        parse_output_limits(redis.client_output_buffer_limit)
    except OutputLimitError as exc:
        yield Problem("redis.client_output_buffer_limit", str(exc))
    try:
        parse_flags(redis.notify_keyspace_events)
    except ValueError as exc:
        yield Problem("redis.notify_keyspace_events", str(exc))


_MEMORY_SETTINGS: dict[str, Callable[[str], object]] = {
    "timeout": parse_timeout,
    "maxmemory": parse_memory,
    "maxmemory_policy": parse_policy,
    "maxmemory_clients": parse_clients_cap,
}


def check_pubsub(pubsub: PubSubSection) -> Iterator[Problem]:
    if pubsub.publish_wait_ms < 0:
        yield Problem("pubsub.publish_wait_ms", f"must be >= 0, got {pubsub.publish_wait_ms}")


def check_auth(auth: AuthSection) -> Iterator[Problem]:
    if auth.requirepass and auth.aclfile is not None:
        yield Problem(
            "auth.requirepass",
            "cannot be combined with auth.aclfile: give the default user its password in "
            "the aclfile (user default on >password ~* &* +@all)",
        )
    if auth.aclfile is not None and not auth.aclfile.is_file():
        yield Problem("auth.aclfile", f"{auth.aclfile} is not a readable file")
    if auth.max_auth_failures < 0:
        yield Problem(
            "auth.max_auth_failures", f"must be >= 0 (0: no limit), got {auth.max_auth_failures}"
        )
    if auth.auth_failure_window_ms <= 0:
        yield Problem(
            "auth.auth_failure_window_ms", f"must be > 0, got {auth.auth_failure_window_ms}"
        )


def check_tls(tls: TlsSection, node: NodeSection | None) -> Iterator[Problem]:
    if not 0 <= tls.tls_port <= MAX_PORT:
        yield Problem(
            "tls.tls_port", f"must be a port number (0 turns TLS off), got {tls.tls_port}"
        )
        return
    if tls.tls_port == 0:
        return
    if node is not None and tls.tls_port == node.client_addr.port:
        yield Problem("tls.tls_port", f"must differ from node.client_addr's port ({tls.tls_port})")
    needed = [("tls_cert_file", tls.tls_cert_file), ("tls_key_file", tls.tls_key_file)]
    if tls.tls_auth_clients is not TlsAuthClients.NO:
        needed.append(("tls_ca_cert_file", tls.tls_ca_cert_file))
    for key, path in needed:
        if path is None:
            why = (
                f"tls_auth_clients is {tls.tls_auth_clients.value}"
                if key == "tls_ca_cert_file"
                else "tls.tls_port is set"
            )
            yield Problem(f"tls.{key}", f"required when {why}")
        elif not path.is_file():
            yield Problem(f"tls.{key}", f"{path} is not a readable file")

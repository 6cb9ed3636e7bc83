"""Sources and precedence: defaults < TOML file < SESHAT_* environment < CLI overrides."""

from enum import Enum
from pathlib import Path

import pytest

from seshat_trio.config import (
    Address,
    Config,
    LogFormat,
    LogLevel,
    Member,
    ReadMode,
    Redirect,
    Setting,
    all_settings,
    load_config,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={}, overrides={"node.id": "7"})
    node, cluster, raft, limits = config.node, config.cluster, config.raft, config.limits
    assert node.id == 7
    assert node.data_dir == Path("data/node-7")
    assert (tmp_path / "data/node-7").is_dir()  # created by the writability probe
    assert node.client_addr == Address("127.0.0.1", 6379)
    assert node.internal_addr == Address("127.0.0.1", 7379)
    assert node.http_addr == Address("127.0.0.1", 8080)
    assert (node.log_level, node.log_format) == (LogLevel.INFO, LogFormat.KV)
    assert (cluster.bootstrap, cluster.initial_members) == (False, ())
    assert (cluster.redirect, cluster.read_mode) == (Redirect.FORWARD, ReadMode.READINDEX)
    assert (raft.heartbeat_ms, raft.election_timeout_min_ms, raft.election_timeout_max_ms) == (
        100,
        500,
        1000,
    )
    assert (raft.snapshot_entries, raft.snapshot_bytes) == (10_000, 100_000_000)
    assert (raft.max_append_bytes, raft.max_inflight) == (1_048_576, 256)
    assert raft.snapshot_chunk_bytes == 1_048_576
    assert (limits.max_key_bytes, limits.max_value_bytes, limits.max_clients) == (
        256,
        4_194_304,
        10_000,
    )
    assert (limits.max_request_bytes, limits.max_write_bytes) == (4_259_840, 4_259_840)
    assert limits.request_read_timeout_ms == 60_000
    redis = config.redis
    assert (redis.timeout, redis.maxmemory, redis.maxmemory_policy) == ("0", "0", "noeviction")
    assert redis.maxmemory_clients == "256mb"
    assert (node.http_max_connections, node.http_header_timeout_ms) == (32, 2_000)
    assert node.metrics_token_file is None and cluster.secret_file is None
    assert limits.request_timeout_ms == 30_000
    assert (limits.max_bulk_len, limits.max_multibulk_len, limits.max_inline_len) == (
        536_870_912,
        1_048_576,
        65_536,
    )


def test_file_then_env_then_flag(tmp_path: Path) -> None:
    path = write(
        tmp_path / "seshat.toml",
        f'[node]\nid = 1\ndata_dir = "{tmp_path / "d"}"\n[raft]\nheartbeat_ms = 150\n',
    )
    env = {"SESHAT_RAFT_HEARTBEAT_MS": "200"}
    flags = {"raft.heartbeat_ms": "250"}
    assert load_config(path, env={}).raft.heartbeat_ms == 150
    assert load_config(path, env=env).raft.heartbeat_ms == 200
    assert load_config(path, env=env, overrides=flags).raft.heartbeat_ms == 250
    # A flag beats the file even without the environment, and sources merge per key.
    mixed = load_config(path, env={"SESHAT_LIMITS_MAX_CLIENTS": "5"}, overrides=flags)
    assert (mixed.raft.heartbeat_ms, mixed.limits.max_clients, mixed.node.id) == (250, 5, 1)


def test_env_ignores_other_variables(tmp_path: Path) -> None:
    env = {"SESHAT_NODE_ID": "3", "SESHAT_NODE_DATA_DIR": str(tmp_path), "HOME": "/x"}
    assert load_config(env=env).node.id == 3


def test_full_toml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "full.toml",
        f"""
[node]
id = 2
data_dir = "{tmp_path / "n2"}"
client_addr = "127.0.0.1:6380"
internal_addr = "127.0.0.1:7380"
http_addr = "127.0.0.1:8081"
log_level = "debug"
log_format = "json"

[cluster]
bootstrap = true
redirect = "moved"
read_mode = "lease"

[cluster.initial_members]
1 = "127.0.0.1:7379"
2 = "127.0.0.1:7380"

[raft]
heartbeat_ms = 50
election_timeout_min_ms = 300
election_timeout_max_ms = 600
snapshot_entries = 5
snapshot_bytes = 1_000
max_append_bytes = 2048
max_inflight = 8
snapshot_chunk_bytes = 512

[limits]
max_key_bytes = 16
max_value_bytes = 32
max_clients = 3
request_timeout_ms = 100
max_bulk_len = 64
max_multibulk_len = 10
max_inline_len = 128
""",
    )
    config = load_config(path, env={})
    assert config.node.log_format is LogFormat.JSON and config.node.log_level is LogLevel.DEBUG
    assert config.node.http_addr == Address("127.0.0.1", 8081)
    assert config.cluster.initial_members == (
        Member(1, Address("127.0.0.1", 7379)),
        Member(2, Address("127.0.0.1", 7380)),
    )
    assert (config.cluster.redirect, config.cluster.read_mode) == (Redirect.MOVED, ReadMode.LEASE)
    assert config.raft.snapshot_bytes == 1000 and config.limits.max_inline_len == 128


def test_members_as_list_of_tables(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.toml",
        f"""
[node]
id = 1
data_dir = "{tmp_path / "n1"}"
[cluster]
bootstrap = true
initial_members = [
  {{ id = 1, address = "127.0.0.1:7379" }},
  {{ id = 2, address = "127.0.0.1:7380" }},
]
""",
    )
    assert [m.id for m in load_config(path, env={}).cluster.initial_members] == [1, 2]


def sample(setting: Setting, tmp_path: Path) -> tuple[str, object]:
    """A non-default value for `setting` as text, and the typed value it must become."""
    if setting.dotted == "node.id":
        return "1", 1
    if setting.dotted == "node.data_dir":
        return str(tmp_path / "elsewhere"), tmp_path / "elsewhere"
    if setting.dotted == "cluster.secret_file":
        secret = tmp_path / "cluster.secret"
        secret.write_text("s" * 32 + "\n")
        return str(secret), secret
    if setting.dotted == "node.metrics_token_file":
        token = tmp_path / "metrics.token"
        token.write_text("t" * 24 + "\n")
        return str(token), token
    if setting.dotted == "limits.max_write_bytes":  # max_request_bytes must stay above it
        assert isinstance(setting.default, int)
        return str(setting.default - 1), setting.default - 1
    redis_samples = {
        "redis.timeout": "300",
        "redis.maxmemory": "1gb",
        "redis.maxmemory_policy": "noeviction",
        "redis.maxmemory_clients": "10%",
    }
    if setting.dotted in redis_samples:
        return redis_samples[setting.dotted], redis_samples[setting.dotted]
    if setting.dotted == "node.internal_addr":
        # Must match this node's entry in the member list the base config provides.
        return "127.0.0.1:7379", Address("127.0.0.1", 7379)
    if setting.type is int:
        assert isinstance(setting.default, int)
        return str(setting.default + 1), setting.default + 1
    if setting.type is bool:
        return "false" if setting.default else "true", not setting.default
    if setting.dotted == "auth.requirepass":
        return "s3cret", "s3cret"
    if setting.type_text == "path":
        path = tmp_path / f"{setting.key}.pem"
        path.write_text("")
        return str(path), path
    if setting.type in (Address, Address | None):
        return "127.0.0.1:9999", Address("127.0.0.1", 9999)
    if isinstance(setting.type, type) and issubclass(setting.type, Enum):
        last = list(setting.type)[-1]
        return str(last.value).upper(), last
    if setting.dotted == "redis.client_output_buffer_limit":
        return "pubsub 1mb 512kb 10", "pubsub 1mb 512kb 10"
    if setting.dotted == "redis.notify_keyspace_events":
        return "KEA", "KEA"
    assert setting.type_text == "members"
    return "1=127.0.0.1:7379,2=127.0.0.1:7380", (
        Member(1, Address("127.0.0.1", 7379)),
        Member(2, Address("127.0.0.1", 7380)),
    )


TLS_FILES = ("tls_cert_file", "tls_key_file", "tls_ca_cert_file")


def _empty_file(path: Path) -> Path:
    path.write_text("")
    return path


def value_of(config: Config, setting: Setting) -> object:
    return getattr(getattr(config, setting.section), setting.key)


@pytest.mark.parametrize("setting", all_settings(), ids=lambda s: s.dotted)
def test_every_setting_from_env_and_from_flag(setting: Setting, tmp_path: Path) -> None:
    text, expected = sample(setting, tmp_path)
    base = {
        "node.id": "1",
        "node.data_dir": str(tmp_path / "base"),
        "cluster.initial_members": "1=127.0.0.1:7379",
        # What a TLS port requires (checked only when tls.tls_port is set).
        **{f"tls.{key}": str(_empty_file(tmp_path / f"base-{key}.pem")) for key in TLS_FILES},
    }
    from_env = load_config(
        env={setting.env: text}, overrides={k: v for k, v in base.items() if k != setting.dotted}
    )
    from_flag = load_config(env={}, overrides={**base, setting.dotted: text})
    assert value_of(from_env, setting) == expected
    assert value_of(from_flag, setting) == expected


def test_flag_values_may_be_typed(tmp_path: Path) -> None:
    # argparse's --bootstrap/--no-bootstrap gives a real bool, not text.
    config = load_config(
        env={"SESHAT_CLUSTER_BOOTSTRAP": "true"},
        overrides={"node.id": 1, "node.data_dir": str(tmp_path), "cluster.bootstrap": False},
    )
    assert config.cluster.bootstrap is False


@pytest.mark.parametrize(
    ("text", "expected"), [("TRUE", True), ("yes", True), ("on", True), ("0", False)]
)
def test_boolean_spellings(text: str, expected: bool, tmp_path: Path) -> None:
    overrides = {
        "node.id": 1,
        "node.data_dir": str(tmp_path),
        "cluster.initial_members": "1=127.0.0.1:7379",
    }
    config = load_config(env={"SESHAT_CLUSTER_BOOTSTRAP": text}, overrides=overrides)
    assert config.cluster.bootstrap is expected


def test_registry_names_are_unique_and_derived() -> None:
    settings = all_settings()
    assert len({s.flag for s in settings}) == len(settings)
    assert len({s.env for s in settings}) == len(settings)
    by_name = {s.dotted: s for s in settings}
    assert by_name["node.id"].env == "SESHAT_NODE_ID"
    assert by_name["node.id"].flag == "--node-id"
    assert by_name["raft.heartbeat_ms"].env == "SESHAT_RAFT_HEARTBEAT_MS"
    assert by_name["raft.heartbeat_ms"].flag == "--heartbeat-ms"
    assert by_name["cluster.initial_members"].env == "SESHAT_CLUSTER_INITIAL_MEMBERS"
    assert len(settings) == 56

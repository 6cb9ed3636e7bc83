"""Every validation rule: one clear line per problem, all problems reported together."""

import errno
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from seshat_trio.config import ConfigError, Setting, all_settings, load_config
from seshat_trio.config.validate import ZERO_MEANS_OFF


def problems_of(
    tmp_path: Path,
    overrides: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    toml: str | None = None,
) -> list[str]:
    """The problem lines, for a node 1 whose data directory is under tmp_path."""
    path = None
    if toml is not None:
        path = tmp_path / "seshat.toml"
        path.write_text(toml, encoding="utf-8")
    base: dict[str, object] = {"node.id": "1", "node.data_dir": str(tmp_path / "data")}
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {}, overrides={**base, **(overrides or {})})
    assert str(info.value) == "\n".join(info.value.problems)
    return list(info.value.problems)


def test_node_id_positive(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {"node.id": "0"}) == [
        "node.id: must be > 0, got 0 (from --node-id)"
    ]


def test_node_id_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={}, overrides={"node.data_dir": str(tmp_path)})
    assert info.value.problems == (
        "node.id: required; set id in [node] of the config file, SESHAT_NODE_ID or --node-id",
    )


def test_duplicate_member_ids(tmp_path: Path) -> None:
    members = "1=127.0.0.1:7379,2=127.0.0.1:7380,2=127.0.0.1:7381"
    assert problems_of(tmp_path, {"cluster.initial_members": members}) == [
        "cluster.initial_members: duplicate member id 2 (from --initial-members)"
    ]


def test_duplicate_member_addresses(tmp_path: Path) -> None:
    members = "1=127.0.0.1:7379,2=127.0.0.1:7380,3=127.0.0.1:7380,4=127.0.0.1:7380"
    assert problems_of(tmp_path, {"cluster.initial_members": members}) == [
        "cluster.initial_members: members 2, 3, 4 share the address 127.0.0.1:7380 "
        "(from --initial-members)"
    ]


def test_bootstrap_node_must_be_a_member(tmp_path: Path) -> None:
    overrides = {"cluster.bootstrap": True, "cluster.initial_members": "2=h:1,3=h:2"}
    assert problems_of(tmp_path, overrides) == [
        "cluster.initial_members: this node (node.id 1) is not among the members (2, 3) "
        "(from --initial-members)"
    ]


def test_non_bootstrap_start_needs_no_members(tmp_path: Path) -> None:
    # A restart (members from stored state) or a node joining an existing cluster.
    alone = load_config(env={}, overrides={"node.id": 4, "node.data_dir": str(tmp_path)})
    assert alone.cluster.initial_members == ()
    joining = load_config(
        env={},
        overrides={
            "node.id": 4,
            "node.data_dir": str(tmp_path),
            "cluster.initial_members": "1=h:1,2=h:2",
        },
    )
    assert [m.id for m in joining.cluster.initial_members] == [1, 2]


def test_bootstrap_requires_members(tmp_path: Path) -> None:
    assert problems_of(tmp_path, env={"SESHAT_CLUSTER_BOOTSTRAP": "true"}) == [
        "cluster.initial_members: required when cluster.bootstrap is true"
    ]


def test_internal_addr_matches_member_address(tmp_path: Path) -> None:
    overrides = {
        "node.internal_addr": "127.0.0.1:7390",
        "cluster.initial_members": "1=127.0.0.1:7379,2=127.0.0.1:7380",
    }
    assert problems_of(tmp_path, overrides) == [
        "node.internal_addr: 127.0.0.1:7390 differs from this node's address in "
        "cluster.initial_members (127.0.0.1:7379) (from --internal-addr)"
    ]


def test_election_timeout_at_least_two_heartbeats(tmp_path: Path) -> None:
    assert problems_of(tmp_path, env={"SESHAT_RAFT_HEARTBEAT_MS": "300"}) == [
        "raft.election_timeout_min_ms: must be at least 2 x raft.heartbeat_ms = 600, got 500"
    ]


@pytest.mark.parametrize("maximum", ["500", "400"])
def test_election_timeout_max_above_min(tmp_path: Path, maximum: str) -> None:
    assert problems_of(tmp_path, {"raft.election_timeout_max_ms": maximum}) == [
        f"raft.election_timeout_max_ms: must be greater than raft.election_timeout_min_ms "
        f"(500), got {maximum} (from --election-timeout-max-ms)"
    ]


def test_data_dir_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "data"
    assert problems_of(tmp_path, {"node.data_dir": str(target)}) == [
        f"node.data_dir: cannot create {target}: Not a directory (from --data-dir)"
    ]


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert problems_of(tmp_path, {"node.data_dir": str(tmp_path / "file")}) == [
        f"node.data_dir: {tmp_path / 'file'} exists and is not a directory (from --data-dir)"
    ]


def test_data_dir_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: the suite may run as root, which writes through permission bits.
    def refuse(*_: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    assert problems_of(tmp_path) == [
        f"node.data_dir: {tmp_path / 'data'} is not writable: Permission denied (from --data-dir)"
    ]


def test_data_dir_probe_creates_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    load_config(env={}, overrides={"node.id": 1, "node.data_dir": str(target)})
    assert target.is_dir()
    assert list(target.iterdir()) == []


def test_data_dir_untouched_when_other_problems(tmp_path: Path) -> None:
    problems_of(tmp_path, {"raft.heartbeat_ms": "0"})
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("localhost", "invalid address 'localhost': expected host:port"),
        ("127.0.0.1:70000", "invalid address '127.0.0.1:70000': port 70000 out of range 0-65535"),
        ("127.0.0.1:http", "invalid address '127.0.0.1:http': port 'http' is not a number"),
    ],
)
def test_bad_addresses(tmp_path: Path, value: str, message: str) -> None:
    assert problems_of(tmp_path, {"node.client_addr": value}) == [
        f"node.client_addr: {message} (from --client-addr)"
    ]


POSITIVE = [
    s for s in all_settings() if s.section in ("raft", "limits") and s.key not in ZERO_MEANS_OFF
]


@pytest.mark.parametrize("setting", POSITIVE, ids=lambda s: s.dotted)
@pytest.mark.parametrize("value", ["0", "-5"])
def test_numbers_must_be_positive(tmp_path: Path, setting: Setting, value: str) -> None:
    problems = problems_of(tmp_path, env={setting.env: value})
    assert f"{setting.dotted}: must be > 0, got {value} (from {setting.env})" in problems


@pytest.mark.parametrize("key", sorted(ZERO_MEANS_OFF))
def test_limits_that_zero_turns_off(tmp_path: Path, key: str) -> None:
    overrides = {"node.id": "1", "node.data_dir": str(tmp_path), f"limits.{key}": "0"}
    assert getattr(load_config(env={}, overrides=overrides).limits, key) == 0
    assert f"limits.{key}: must be >= 0 (0: off), got -1" in problems_of(
        tmp_path, {f"limits.{key}": "-1"}
    )[0]


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("timeout", "soon", "argument couldn't be parsed into an integer"),
        ("maxmemory", "lots", "argument must be a memory value"),
        ("maxmemory_clients", "200%", "argument must be a memory or percent value"),
        ("maxmemory_policy", "allkeys-lru", "must be one of the following: noeviction"),
    ],
)
def test_redis_memory_settings_in_redis_syntax(
    tmp_path: Path, key: str, value: str, reason: str
) -> None:
    [problem] = problems_of(tmp_path, {f"redis.{key}": value})
    assert problem.startswith(f"redis.{key}: ") and reason in problem


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("short\n", "at least 16 printable"), ("two words-" * 3, "one word")],
    ids=["missing", "short", "spaces"],
)
def test_metrics_token_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "metrics.token"
    if content is not None:
        path.write_text(content)
    [problem] = problems_of(tmp_path, {"node.metrics_token_file": str(path)})
    assert problem.startswith("node.metrics_token_file: ") and message in problem


def test_value_limit_within_bulk_limit(tmp_path: Path) -> None:
    overrides = {"limits.max_value_bytes": "2048", "limits.max_bulk_len": "1024"}
    assert problems_of(tmp_path, overrides) == [
        "limits.max_value_bytes: must not exceed limits.max_bulk_len (1024), got 2048 "
        "(from --max-value-bytes)"
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"limits.max_write_bytes": "8388608", "limits.max_request_bytes": "8388608"},
            "limits.max_write_bytes: must be at most 7340032 (a log record is decoded with an "
            "8 MiB bound), got 8388608 (from --max-write-bytes)",
        ),
        (
            {"limits.max_write_bytes": "1000"},
            "limits.max_write_bytes: must be at least 4194577 (a SET of a key of "
            "limits.max_key_bytes and a value of limits.max_value_bytes), got 1000 "
            "(from --max-write-bytes)",
        ),
        (
            {"limits.max_request_bytes": "1000000"},
            "limits.max_request_bytes: must be at least limits.max_write_bytes (4259840), "
            "got 1000000 (from --max-request-bytes)",
        ),
        (
            {"raft.max_append_bytes": "16777216"},
            "raft.max_append_bytes: must be at most 8388608 (node-to-node frames are at most "
            "16 MiB), got 16777216 (from --max-append-bytes)",
        ),
        (
            {"raft.snapshot_chunk_bytes": "9000000"},
            "raft.snapshot_chunk_bytes: must be at most 8388608 (node-to-node frames are at "
            "most 16 MiB), got 9000000 (from --snapshot-chunk-bytes)",
        ),
    ],
)
def test_log_entries_and_messages_fit_their_bounds(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    assert problems_of(tmp_path, overrides) == [message]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("storage.block_cache_bytes", "0", "must be > 0, got 0"),
        ("storage.write_buffer_bytes", "0", "must be > 0, got 0"),
        ("storage.value_cache_bytes", "-1", "must be >= 0, got -1"),
    ],
)
def test_cache_sizes(tmp_path: Path, key: str, value: str, message: str) -> None:
    flag = "--" + key.split(".")[1].replace("_", "-")
    assert problems_of(tmp_path, {key: value}) == [f"{key}: {message} (from {flag})"]


def test_value_cache_may_be_off(tmp_path: Path) -> None:
    overrides = {"node.id": "1", "node.data_dir": str(tmp_path), "storage.value_cache_bytes": "0"}
    assert load_config(None, env={}, overrides=overrides).storage.value_cache_bytes == 0


def test_unknown_sections_and_keys(tmp_path: Path) -> None:
    toml = "[raft]\nheartbeet_ms = 3\nbogus = 1\n[limitz]\nx = 1\n[zzz]\n"
    path = tmp_path / "seshat.toml"
    assert problems_of(tmp_path, toml=toml) == [
        f"{path}: unknown key raft.heartbeet_ms; did you mean raft.heartbeat_ms?",
        f"{path}: unknown key raft.bogus",
        f"{path}: unknown section [limitz]; did you mean limits?",
        f"{path}: unknown section [zzz]",
    ]


def test_top_level_key_is_not_a_table(tmp_path: Path) -> None:
    assert problems_of(tmp_path, toml="node = 3\n") == [
        f"{tmp_path / 'seshat.toml'}: node must be a table ([node])"
    ]


def test_unknown_environment_variable(tmp_path: Path) -> None:
    env = {"SESHAT_RAFT_HEARTBEATMS": "100", "SESHAT_WHATEVER": "1"}
    assert problems_of(tmp_path, env=env) == [
        "unknown environment variable SESHAT_RAFT_HEARTBEATMS; "
        "did you mean SESHAT_RAFT_HEARTBEAT_MS?",
        "unknown environment variable SESHAT_WHATEVER",
    ]


def test_unknown_override(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {"raft.heartbeat": "1"}) == [
        "unknown setting raft.heartbeat; did you mean raft.heartbeat_ms?"
    ]


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    [line] = problems_of(tmp_path, toml="[node\n")
    assert line.startswith(f"{tmp_path / 'seshat.toml'}: invalid TOML: ")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml", env={}, overrides={"node.id": 1})
    assert info.value.problems == (
        f"cannot read config file {tmp_path / 'missing.toml'}: No such file or directory",
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[raft]\nheartbeat_ms = "abc"', "raft.heartbeat_ms: expected an integer, got 'abc'"),
        ("[raft]\nheartbeat_ms = true", "raft.heartbeat_ms: expected an integer, got True"),
        ("[raft]\nheartbeat_ms = 1.5", "raft.heartbeat_ms: expected an integer, got 1.5"),
        (
            "[cluster]\nbootstrap = 1",
            "cluster.bootstrap: expected a boolean (true or false), got 1",
        ),
        (
            '[node]\nlog_format = "xml"',
            "node.log_format: expected one of kv, json, got 'xml'",
        ),
        ("[node]\nclient_addr = 6379", "node.client_addr: expected host:port, got 6379"),
        ("[cluster]\nredirect = 3", "cluster.redirect: expected one of forward, moved, got 3"),
    ],
)
def test_wrong_types_in_file(tmp_path: Path, toml: str, message: str) -> None:
    assert problems_of(tmp_path, toml=toml) == [f"{message} (from {tmp_path / 'seshat.toml'})"]


def test_data_dir_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "seshat.toml"
    path.write_text("[node]\nid = 1\ndata_dir = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.problems == (f"node.data_dir: expected a path, got 5 (from {path})",)


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        overrides={"node.id": "0", "raft.heartbeat_ms": "abc", "cluster.bootstrap": True},
        env={"SESHAT_LIMITS_MAX_CLIENTS": "0", "SESHAT_NODE_HTTP_ADDR": "nowhere"},
        toml="[raft]\nheartbeat = 1\n",
    )
    assert problems == [
        f"{tmp_path / 'seshat.toml'}: unknown key raft.heartbeat; did you mean raft.heartbeat_ms?",
        "node.http_addr: invalid address 'nowhere': expected host:port "
        "(from SESHAT_NODE_HTTP_ADDR)",
        "raft.heartbeat_ms: expected an integer, got 'abc' (from --heartbeat-ms)",
        "cluster.initial_members: required when cluster.bootstrap is true",
        "limits.max_clients: must be > 0, got 0 (from SESHAT_LIMITS_MAX_CLIENTS)",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("\n  \n", "{path} holds no secret"),
        ("short\n", "{path}: secret 1 has 5 bytes; at least 32 are needed"),
        ("a" * 32 + "\n" + "b" * 32 + "\n" + "c" * 32, "{path} holds 3 secrets; at most 2"),
    ],
    ids=["missing", "empty", "short", "three"],
)
def test_cluster_secret_file_must_hold_one_or_two_long_secrets(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "cluster.secret"
    if content is not None:
        path.write_text(content)
    [problem] = problems_of(tmp_path, {"cluster.secret_file": str(path)})
    assert problem.startswith("cluster.secret_file: " + message.format(path=path))
    assert problem.endswith("(from --cluster-secret-file)")


def test_a_rotating_secret_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "cluster.secret"
    path.write_text(f"  {'n' * 32}  \n\n{'o' * 40}\n")
    config = load_config(
        env={},
        overrides={
            "node.id": "1",
            "node.data_dir": str(tmp_path / "data"),
            "cluster.secret_file": str(path),
        },
    )
    assert config.cluster.secret_file == path


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "[::]", "node1.example"])
def test_a_non_loopback_internal_address_needs_a_cluster_secret(tmp_path: Path, host: str) -> None:
    [problem] = problems_of(tmp_path, {"node.internal_addr": f"{host}:7379"})
    assert problem.startswith("cluster.secret_file: required when node.internal_addr")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "[::1]", "localhost"])
def test_loopback_needs_no_cluster_secret(tmp_path: Path, host: str) -> None:
    overrides = {"node.id": "1", "node.data_dir": str(tmp_path)}
    overrides["node.internal_addr"] = f"{host}:7379"
    assert load_config(env={}, overrides=overrides).cluster.secret_file is None

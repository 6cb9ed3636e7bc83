"""The `seshat-trio` command line: help, flags, `serve` wiring and exit codes."""

import logging
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from seshat_trio.cli import build_parser, main, overrides_from
from seshat_trio.config import Config, all_settings


def help_of(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of(capsys=capsys)
    assert "serve" in out and "cluster" in out


def test_serve_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    out = " ".join(help_of("serve", capsys=capsys).split())
    assert "--config PATH" in out
    for setting in all_settings():
        assert f"{setting.flag} " in out, setting.dotted
        assert f"env {setting.env})" in out, setting.env
    assert "--no-bootstrap" in out


def test_cluster_help_lists_flags(capsys: pytest.CaptureFixture[str]) -> None:
    out = help_of("cluster", capsys=capsys)
    for flag in ("--nodes", "--base-dir", "--client-port", "--internal-port", "--http-port"):
        assert flag in out


def test_only_given_flags_override() -> None:
    args = build_parser().parse_args(
        ["serve", "--node-id", "3", "--no-bootstrap", "--heartbeat-ms", "90"]
    )
    assert overrides_from(args) == {
        "node.id": "3",
        "cluster.bootstrap": False,
        "raft.heartbeat_ms": "90",
    }


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Config]]:
    """Stands in for the node runner; records the configs it is started with."""
    started: list[Config] = []

    def run_node(config: Config) -> int:
        started.append(config)
        return 7

    module = types.ModuleType("seshat_trio.runner")
    module.run_node = run_node  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "seshat_trio.runner", module)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield started
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_serve_loads_config_and_runs_node(
    fake_runner: list[Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "seshat.toml"
    config_file.write_text("[raft]\nheartbeat_ms = 120\nsnapshot_entries = 9\n")
    monkeypatch.setenv("SESHAT_RAFT_SNAPSHOT_ENTRIES", "11")
    monkeypatch.setenv("SESHAT_NODE_LOG_LEVEL", "debug")
    code = main(
        [
            "serve",
            "--config",
            str(config_file),
            "--node-id",
            "2",
            "--data-dir",
            str(tmp_path / "n2"),
            "--bootstrap",
            "--initial-members",
            "1=127.0.0.1:7379,2=127.0.0.1:7380",
            "--internal-addr",
            "127.0.0.1:7380",
            "--log-format",
            "json",
        ]
    )
    assert code == 7
    [config] = fake_runner
    assert config.node.id == 2 and config.cluster.bootstrap
    assert config.raft.heartbeat_ms == 120  # file
    assert config.raft.snapshot_entries == 11  # env over file
    assert logging.getLogger().level == logging.DEBUG
    assert [h.get_name() for h in logging.getLogger().handlers].count("seshat-trio") == 1


def test_serve_config_error_exit_2(
    fake_runner: list[Config], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESHAT_RAFT_HEARTBEAT_MS", "abc")
    assert main(["serve", "--node-id", "0"]) == 2
    assert fake_runner == []
    assert capsys.readouterr().err.splitlines() == [
        "seshat-trio: configuration error:",
        "  raft.heartbeat_ms: expected an integer, got 'abc' (from SESHAT_RAFT_HEARTBEAT_MS)",
        "  node.id: must be > 0, got 0 (from --node-id)",
    ]


def test_no_command_prints_help_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: seshat-trio" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--nodes", "0"], "  --nodes must be at least 1, got 0"),
        (
            ["--nodes", "3", "--client-port", "65534"],
            "  --client-port: ports 65534-65536 are not all within 1-65535",
        ),
        (
            ["--nodes", "3", "--internal-port", "6380"],
            "  port ranges of 3 ports from [6379, 6380, 8080] overlap",
        ),
    ],
)
def test_cluster_bad_plan_exit_2(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["cluster", "--base-dir", str(tmp_path), *argv]) == 2
    assert capsys.readouterr().err.splitlines() == ["seshat-trio: configuration error:", line]


def test_bad_config_exit_code_2_in_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESHAT_")}
    env["SESHAT_CLUSTER_BOOTSTRAP"] = "yes"
    result = subprocess.run(
        [sys.executable, "-m", "seshat_trio", "serve", "--node-id", "0", "--heartbeat-ms", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "seshat-trio: configuration error:",
        "  raft.heartbeat_ms: expected an integer, got 'x' (from --heartbeat-ms)",
        "  node.id: must be > 0, got 0 (from --node-id)",
        "  cluster.initial_members: required when cluster.bootstrap is true",
    ]
    assert list(tmp_path.iterdir()) == []  # no data directory for a rejected config

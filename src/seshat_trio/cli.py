"""The `seshat-trio` command: `serve` runs one node, `cluster` runs a local cluster, `member`
administers a running cluster's members.

`serve` has one flag per configuration key, derived from the settings registry, so a new
key gets its flag, environment variable and help line without touching this module.
Flags are left unset unless given (argparse.SUPPRESS) so that they override the config
file and the environment only when present; their values reach `load_config` as text and
are checked there, so every problem is reported in one go.
"""

import argparse
import faulthandler
import os
import signal
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from seshat_trio import __version__
from seshat_trio.cluster_launcher import ClusterPlan, run_cluster
from seshat_trio.config import Config, ConfigError, Setting, all_settings, load_config
from seshat_trio.logs import configure_logging
from seshat_trio.membership.cli import add_member_parser, run_member

PROG = "seshat-trio"
CONFIG_ERROR_EXIT = 2


def _metavar(setting: Setting) -> str:
    if isinstance(setting.type, type) and issubclass(setting.type, Enum):
        return "{" + ",".join(str(member.value) for member in setting.type) + "}"
    return {
        "integer": "N",
        "path": "PATH",
        "host:port": "HOST:PORT",
        "members": "ID=HOST:PORT,...",
    }.get(setting.type_text, setting.type_text.upper())


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    groups: dict[str, argparse._ArgumentGroup] = {}
    for setting in all_settings():
        if setting.section not in groups:
            groups[setting.section] = parser.add_argument_group(f"[{setting.section}] settings")
        default = "required" if setting.required else f"default: {setting.default_text}"
        help_text = f"{setting.help} ({default}; env {setting.env})"
        groups[setting.section].add_argument(
            setting.flag,
            dest=setting.dotted,
            default=argparse.SUPPRESS,
            action=argparse.BooleanOptionalAction if setting.is_bool else "store",
            metavar=None if setting.is_bool else _metavar(setting),
            help=help_text.replace("%", "%%"),
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A distributed, strongly consistent, Redis-compatible key-value store.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run one node",
        description="Run one node. Precedence: defaults < --config file < SESHAT_* "
        "environment < flags. See docs/configuration.md.",
    )
    serve.add_argument("--config", type=Path, metavar="PATH", help="TOML configuration file")
    _add_setting_flags(serve)

    cluster = commands.add_parser(
        "cluster",
        help="run a local N-node cluster in the foreground",
        description="Start N nodes on 127.0.0.1 (node i uses each base port + i - 1); "
        "Ctrl-C stops them all.",
    )
    cluster.add_argument("--nodes", type=int, required=True, metavar="N", help="cluster size")
    cluster.add_argument(
        "--groups",
        type=int,
        default=1,
        metavar="G",
        help="data groups the hash slots are split over (default: 1)",
    )
    cluster.add_argument(
        "--base-dir",
        type=Path,
        default=Path(".seshat/cluster"),
        metavar="DIR",
        help="data directories and logs go here (default: .seshat/cluster)",
    )
    for name, default in (("client", 6379), ("internal", 7379), ("http", 8080)):
        cluster.add_argument(
            f"--{name}-port",
            type=int,
            default=default,
            metavar="PORT",
            help=f"{name} port of node 1 (default: {default})",
        )
    add_member_parser(commands)
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, object]:
    """The setting flags that were given, keyed by dotted name."""
    given = vars(args)
    return {s.dotted: given[s.dotted] for s in all_settings() if s.dotted in given}


def report_config_error(error: ConfigError) -> None:
    print(f"{PROG}: configuration error:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    try:
        config: Config = load_config(args.config, os.environ, overrides_from(args))
    except ConfigError as error:
        report_config_error(error)
        return CONFIG_ERROR_EXIT
    configure_logging(config.node.log_level, config.node.log_format, config.node.id)
    # `kill -USR2 <pid>` prints every thread's Python stack to stderr from the signal
    # handler itself, so it works even when the event loop is stuck (docs/operations.md).
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    # Imported here so that `--help`, `cluster` and configuration errors stay fast and
    # do not depend on the storage and network stack.
    from seshat_trio.runner import run_node  # noqa: PLC0415

    return run_node(config)


def _cluster(args: argparse.Namespace) -> int:
    plan = ClusterPlan(
        nodes=args.nodes,
        groups=args.groups,
        base_dir=args.base_dir.resolve(),
        client_port=args.client_port,
        internal_port=args.internal_port,
        http_port=args.http_port,
    )
    problems = plan.problems()
    if problems:
        report_config_error(ConfigError(problems))
        return CONFIG_ERROR_EXIT
    return run_cluster(plan)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "cluster":
        return _cluster(args)
    if args.command == "member":
        return run_member(args)
    parser.print_help(sys.stderr)
    return CONFIG_ERROR_EXIT

"""Load a configuration: merge the sources by precedence, type it, validate it.

Precedence, lowest first: built-in defaults < TOML file < `SESHAT_*` environment < CLI
flags. Every problem from every stage is collected and raised together as one ConfigError.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from seshat_trio.config.errors import ConfigError, Problem
from seshat_trio.config.model import (
    AuthSection,
    ClusterSection,
    Config,
    LimitsSection,
    NodeSection,
    PubSubSection,
    RaftSection,
    RedisSection,
    StorageSection,
    TlsSection,
)
from seshat_trio.config.parse import structure
from seshat_trio.config.settings import by_dotted
from seshat_trio.config.sources import Values, read_env, read_file, read_overrides
from seshat_trio.config.validate import (
    check_auth,
    check_cluster,
    check_cluster_secret,
    check_data_dir,
    check_lease,
    check_limits,
    check_node,
    check_pubsub,
    check_raft,
    check_redis,
    check_storage,
    check_tls,
)

T = TypeVar("T")


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Config:
    """The validated configuration, or ConfigError listing every problem.

    `env` defaults to `os.environ`; `overrides` maps dotted keys (`"raft.heartbeat_ms"`)
    to values as given on the command line. Creates the data directory (see validate).
    """
    merged: Values = {}
    problems: list[Problem] = []
    readers = [read_env(os.environ if env is None else env), read_overrides(overrides or {})]
    if path is not None:
        readers.insert(0, read_file(path))
    for values, found in readers:
        merged.update(values)
        problems.extend(found)

    def section(name: str, cls: type[T]) -> T | None:
        prefix = f"{name}."
        raw = {k.removeprefix(prefix): v.value for k, v in merged.items() if k.startswith(prefix)}
        result = structure(raw, cls, name)
        if isinstance(result, list):
            problems.extend(result)
            return None
        return result

    node = section("node", NodeSection)
    cluster = section("cluster", ClusterSection)
    raft = section("raft", RaftSection)
    limits = section("limits", LimitsSection)
    storage = section("storage", StorageSection)
    redis = section("redis", RedisSection)
    pubsub = section("pubsub", PubSubSection)
    auth = section("auth", AuthSection)
    tls = section("tls", TlsSection)
    if node is not None:
        problems.extend(check_node(node))
    if cluster is not None:
        problems.extend(check_cluster(cluster, node))
        problems.extend(check_cluster_secret(cluster, node))
    if raft is not None:
        problems.extend(check_raft(raft))
    if raft is not None and cluster is not None:
        problems.extend(check_lease(cluster, raft))
    if limits is not None:
        problems.extend(check_limits(limits))
    if storage is not None:
        problems.extend(check_storage(storage))
    if redis is not None:
        problems.extend(check_redis(redis))
    if pubsub is not None:
        problems.extend(check_pubsub(pubsub))
    if auth is not None:
        problems.extend(check_auth(auth))
    if tls is not None:
        problems.extend(check_tls(tls, node))
    if (
        node is None
        or cluster is None
        or raft is None
        or limits is None
        or storage is None
        or redis is None
        or pubsub is None
        or auth is None
        or tls is None
        or problems
    ):
        raise ConfigError([_describe(p, merged) for p in problems])
    data_dir_problem = check_data_dir(node.data_dir)
    if data_dir_problem is not None:
        raise ConfigError([_describe(data_dir_problem, merged)])
    return Config(
        node=node,
        cluster=cluster,
        raft=raft,
        limits=limits,
        storage=storage,
        redis=redis,
        pubsub=pubsub,
        auth=auth,
        tls=tls,
    )


def _describe(problem: Problem, merged: Values) -> str:
    """The problem as one line, saying where the offending value came from."""
    setting = by_dotted().get(problem.key)
    if setting is not None and problem.message == "required":
        return (
            f"{problem.key}: required; set {setting.key} in [{setting.section}] of the "
            f"config file, {setting.env} or {setting.flag}"
        )
    raw = merged.get(problem.key)
    return f"{problem}" + (f" (from {raw.origin})" if raw is not None else "")

"""Which cells a run measures, in which order.

Targets are grouped by the system they need (`leader` and `follower` share one 3-node
cluster), and within a target SET runs before GET so that GETs find the keys SET wrote.

The collection commands (redis-benchmark's own HSET, LPUSH, LPOP, SADD, ZADD and LRANGE
tests, and HSET into a big hash and into an empty one) are compared with SET in the same
run: they run with redis-benchmark only, on the cluster's leader and on Redis, at the run's
largest client count and every pipeline depth, right after SET.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.loadgen import COMMANDS as LOADGEN_COMMANDS
from bench.model import Cell

TARGETS = ("leader", "follower", "single", "redis")
# Which system each target runs against: a 3-node cluster, 1 node, or redis-server.
SYSTEM_OF = {"leader": "cluster", "follower": "cluster", "single": "single", "redis": "redis"}
TARGET_DESCRIPTIONS = {
    "leader": "seshat-trio 3-node cluster, clients on the leader",
    "follower": "seshat-trio 3-node cluster, clients on a follower (it forwards to the leader)",
    "single": "seshat-trio single node (a 1-voter Raft group)",
    "redis": "redis-server --appendonly yes --appendfsync always (durable reference)",
}
TOOLS = ("redis-benchmark", "loadgen")
COLLECTION_COMMANDS = ("hset", "lpush", "lpop", "sadd", "zadd", "lrange")
# HSET into a hash that holds `RunOptions.big_hash_fields` fields, and into an empty one.
BIG_HASH_COMMANDS = ("hset-big", "hset-empty")
COMMANDS = ("set", *COLLECTION_COMMANDS, *BIG_HASH_COMMANDS, "get", "incr", "mset")
COLLECTION_TARGETS = ("leader", "redis")
CLIENTS = (1, 50)
PIPELINES = (1, 16)
VALUE_SIZE = 100


def _ordered(chosen: Sequence[str], universe: Sequence[str], what: str) -> tuple[str, ...]:
    unknown = sorted(set(chosen) - set(universe))
    if unknown:
        choices = ", ".join(universe)
        raise ValueError(f"unknown {what}: {', '.join(unknown)} (choose from {choices})")
    return tuple(item for item in universe if item in chosen)


def cells(
    *,
    targets: Sequence[str] = TARGETS,
    tools: Sequence[str] = TOOLS,
    commands: Sequence[str] = COMMANDS,
    clients: Sequence[int] = CLIENTS,
    pipelines: Sequence[int] = PIPELINES,
    value_size: int = VALUE_SIZE,
) -> list[Cell]:
    """Every cell of the matrix, in run order; raises ValueError on an unknown name."""
    chosen_targets = _ordered(targets, TARGETS, "target")
    chosen_tools = _ordered(tools, TOOLS, "tool")
    chosen_commands = _ordered(commands, COMMANDS, "command")
    matrix: list[Cell] = []
    for target in chosen_targets:
        for tool in chosen_tools:
            for command in chosen_commands:
                if tool == "loadgen" and command not in LOADGEN_COMMANDS:
                    continue
                chosen_clients: Sequence[int] = clients
                if is_collection(command):
                    if tool != "redis-benchmark" or target not in COLLECTION_TARGETS:
                        continue
                    chosen_clients = (max(clients),)
                matrix.extend(
                    Cell(target, tool, command, c, p, value_size)
                    for c in chosen_clients
                    for p in pipelines
                )
    return matrix


def is_collection(command: str) -> bool:
    """A command compared with SET rather than measured across the whole matrix."""
    return command in COLLECTION_COMMANDS or command in BIG_HASH_COMMANDS


def systems(matrix: Sequence[Cell]) -> list[str]:
    """The systems the cells need, in first-use order."""
    found: list[str] = []
    for cell in matrix:
        system = SYSTEM_OF[cell.target]
        if system not in found:
            found.append(system)
    return found

"""Durations and sizes of the chaos scenarios, from CHAOS_* environment variables.

CHAOS_PROFILE=quick (the default, for CI) keeps every scenario short; CHAOS_PROFILE=full is
what `nox -s chaos` runs (50 clients in the random mix). Any single value can be overridden:
CHAOS_CLIENTS, CHAOS_MIX_SECONDS, CHAOS_SEED, CHAOS_PHASE_SECONDS, CHAOS_SNAPSHOT_WRITES,
CHAOS_GROUPS (data groups per cluster, 3 in both profiles: every scenario runs sharded).
"""

from __future__ import annotations

import os

import attrs


@attrs.frozen(slots=True, kw_only=True)
class ChaosSettings:
    profile: str
    clients: int  # concurrent clients of the random mix (scenario 15)
    mix_seconds: float  # how long the random mix runs
    phase_seconds: float  # load before/after a fault in the single-fault scenarios
    snapshot_writes: int  # writes of the compaction scenario (10)
    seed: int  # the random mix's nemesis seed
    groups: int  # data groups of every cluster (`serve --data-groups`)


_PROFILES = {
    "quick": {
        "clients": 10,
        "mix_seconds": 25.0,
        "phase_seconds": 2.0,
        "snapshot_writes": 3000,
        "groups": 3,
    },
    "full": {
        "clients": 50,
        "mix_seconds": 90.0,
        "phase_seconds": 4.0,
        "snapshot_writes": 12000,
        "groups": 3,
    },
}


def load_settings() -> ChaosSettings:
    """Settings from the environment; an unknown profile or a bad number raises ValueError."""
    profile = os.environ.get("CHAOS_PROFILE", "quick")
    if profile not in _PROFILES:
        raise ValueError(f"CHAOS_PROFILE must be one of {sorted(_PROFILES)}, not {profile!r}")
    base = _PROFILES[profile]
    return ChaosSettings(
        profile=profile,
        clients=int(os.environ.get("CHAOS_CLIENTS", base["clients"])),
        mix_seconds=float(os.environ.get("CHAOS_MIX_SECONDS", base["mix_seconds"])),
        phase_seconds=float(os.environ.get("CHAOS_PHASE_SECONDS", base["phase_seconds"])),
        snapshot_writes=int(os.environ.get("CHAOS_SNAPSHOT_WRITES", base["snapshot_writes"])),
        seed=int(os.environ.get("CHAOS_SEED", "20261122")),
        groups=int(os.environ.get("CHAOS_GROUPS", base["groups"])),
    )

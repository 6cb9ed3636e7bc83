"""Randomized simulation batches: many seeded fault schedules, each fully checked.

Environment knobs (defaults keep the CI batch under 2 minutes on one core; 81 s measured):
- SESHAT_SIM_SCHEDULES: number of seeded schedules in the batch (default 1000);
- SESHAT_SIM_SEED: first seed of the batch (default 0) -- set it, with
  SESHAT_SIM_SCHEDULES=1, to replay one failing seed under pytest;
- SESHAT_SIM_STEPS: events per schedule in the fault phase (default 1500);
- SESHAT_SIM_EXAMPLES: hypothesis-chosen schedules (default 20).
The 1000-schedule batch is marked `slow` (deselect it with `-m "not slow"` in
the quick loop; CI runs it).  A failure prints the seed, the violated property,
the command that replays it exactly, and the last simulated events.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tests.raft.sim_seeds import over_seed_chunks

from seshat_trio.testing.nemesis import NemesisParams
from seshat_trio.testing.raftsim import SimConfig, run_simulation

SCHEDULES = int(os.environ.get("SESHAT_SIM_SCHEDULES", "1000"))
STEPS = int(os.environ.get("SESHAT_SIM_STEPS", "1500"))
EXAMPLES = int(os.environ.get("SESHAT_SIM_EXAMPLES", "20"))
CHUNK = 50


@pytest.mark.slow
@over_seed_chunks(SCHEDULES, CHUNK)
def test_randomized_schedules(first: int, count: int) -> None:
    failed = []
    for seed in range(first, first + count):
        result = run_simulation(SimConfig.for_seed(seed, STEPS))
        assert result.events > STEPS  # the schedule ran, then healed and settled
        if not result.ok:
            failed.append(result)
    assert not failed, f"{len(failed)} failing seed(s): {[r.seed for r in failed]}\n" + failed[
        0
    ].report(STEPS)


# Shrinking a seed means nothing, so hypothesis only explores and replays.
@settings(
    max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
@given(seed=st.integers(min_value=1_000_000, max_value=2**32 - 1))
def test_hypothesis_chosen_seeds(seed: int) -> None:
    result = run_simulation(SimConfig.for_seed(seed, STEPS))
    assert result.ok, result.report(STEPS)


@settings(
    max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    nodes=st.sampled_from([3, 5]),
    membership=st.booleans(),
    interval=st.floats(min_value=10.0, max_value=500.0),
    max_down=st.sampled_from([None, 1, 2]),
)
def test_hypothesis_chosen_fault_mix(
    seed: int, nodes: int, membership: bool, interval: float, max_down: int | None
) -> None:
    base = SimConfig.for_seed(seed, STEPS)
    config = SimConfig(
        seed=seed,
        steps=STEPS,
        nodes=nodes,
        node=base.node,
        workload=base.workload,
        nemesis=NemesisParams(
            interval_max_ms=interval, membership_changes=membership, max_down=max_down
        ),
    )
    result = run_simulation(config)
    assert result.ok, f"replay: run_simulation({config!r})\n{result.report(STEPS)}"

"""The node runner takes its start-up objects out of the cyclic garbage collector's view,
and collects the young generation less often than Python's default."""

import gc

import pytest
import trio

from seshat_trio import runner
from seshat_trio.config import Config, NodeSection


def test_run_node_freezes_what_exists_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_when_serving: list[int] = []
    thresholds: list[tuple[int, int, int]] = []

    def fake_run(fn: object, config: Config) -> None:
        frozen_when_serving.append(gc.get_freeze_count())
        thresholds.append(gc.get_threshold())

    monkeypatch.setattr(trio, "run", fake_run)
    before = gc.get_threshold()
    try:
        assert runner.run_node(Config(node=NodeSection(id=1))) == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert frozen_when_serving and frozen_when_serving[0] > 0
    assert thresholds == [(runner.YOUNG_COLLECTION_THRESHOLD, *before[1:])]
    assert before[0] < runner.YOUNG_COLLECTION_THRESHOLD

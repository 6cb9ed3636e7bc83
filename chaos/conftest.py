"""pytest glue for the chaos scenarios: the settings fixture, and the tails of every node
log under a failed test's tmp_path attached to its report (the full logs stay there)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from chaos.settings import ChaosSettings, load_settings

LOG_TAIL_LINES = 120


@pytest.fixture
def settings() -> ChaosSettings:
    return load_settings()


def _log_sections(base: Path) -> list[tuple[str, str]]:
    sections = []
    for path in sorted(base.rglob("node-*.log")):
        lines = path.read_text(errors="replace").splitlines()
        title = f"{path} (last {min(LOG_TAIL_LINES, len(lines))} of {len(lines)} lines)"
        sections.append((title, "\n".join(lines[-LOG_TAIL_LINES:])))
    return sections


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and call.when == "call" and isinstance(tmp, Path):
        report.sections.extend(_log_sections(tmp))
    return report

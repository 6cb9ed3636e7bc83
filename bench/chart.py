"""A PNG chart of a run: throughput and latency percentiles per measured cell.

matplotlib is optional (the `bench` nox session installs it); without it `draw` returns
False and the run still writes its JSON and markdown.
"""

from __future__ import annotations

from pathlib import Path

from bench.model import Run

# Percentiles drawn, in order; a tool that lacks one (redis-benchmark has no p90) skips it.
DRAWN = ("p50", "p90", "p95", "p99", "p99.9")


def draw(run: Run, path: Path) -> bool:
    """Write the chart to `path`; False if matplotlib is missing or nothing was measured."""
    # Imported here, not at the top: matplotlib is optional and slow to import.
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:
        return False
    matplotlib.use("Agg")  # no display: render to files only
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

    measured = [r for r in run.results if r.ok and r.rps > 0]
    if not measured:
        return False
    labels = [r.cell.label for r in measured]
    rows = list(range(len(measured)))
    height = 1.5 + 0.28 * len(measured)
    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(15, height), sharey=True)
    ax_rps.barh(rows, [r.rps for r in measured], color="tab:blue")
    ax_rps.set_xscale("log")
    ax_rps.set_xlabel("ops/s (log)")
    ax_rps.set_yticks(rows, labels, fontsize=7)
    ax_rps.invert_yaxis()
    for key in DRAWN:
        points = [(r.latency_ms[key], i) for i, r in zip(rows, measured, strict=True)
                  if key in r.latency_ms]  # fmt: skip
        if points:
            ax_lat.scatter([x for x, _ in points], [y for _, y in points], s=12, label=key)
    ax_lat.set_xscale("log")
    ax_lat.set_xlabel("latency ms (log)")
    ax_lat.legend(loc="lower right", fontsize=7)
    kind = "quick run" if run.options.quick else f"~{run.options.duration_s:g} s per cell"
    fig.suptitle(f"seshat-trio benchmark, {run.started} ({kind})")
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # leave room for the title
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True

"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s cluster`, `nox -s sim`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (unit, property, simulation, real-process integration)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy --strict on src/ and bench/."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "src", "tests", "bench", "chaos", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON)
def cluster(session: nox.Session) -> None:
    """Start a local 3-node cluster with 3 data groups in the foreground (Ctrl-C stops every
    node gracefully).

    `nox -s cluster -- --nodes 5 --groups 16` for another shape; see
    `seshat-trio cluster --help`.
    """
    session.install("-e", ".")
    args = session.posargs or ["--nodes", "3", "--groups", "3"]
    # nox sends SIGTERM 0.3 s after Ctrl-C by default, which the launcher takes as "skip
    # the grace period": let it stop the nodes itself (it SIGKILLs after 10 s).
    session.run("seshat-trio", "cluster", *args, interrupt_timeout=15)


@nox.session(python=PYTHON)
def sim(session: nox.Session) -> None:
    """Long randomized Raft simulation batches: `nox -s sim -- --seeds 20000 --start 1`."""
    session.install("-e", ".[dev]")
    args = session.posargs or ["--seeds", "5000"]
    session.run("python", "-m", "seshat_trio.testing.raftsim", *args)


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """Every chaos scenario against real processes (chaos/, docs/chaos.md), ~10-15 min.

    Runs the full profile (50 clients in the random mix) unless CHAOS_PROFILE is set;
    `CHAOS_PROFILE=quick nox -s chaos` is the short CI variant. Extra args go to pytest.
    """
    import os  # noqa: PLC0415 - only this session reads the environment

    session.install("-e", ".[dev]")
    profile = os.environ.get("CHAOS_PROFILE", "full")
    session.run("pytest", "chaos", "-p", "no:cacheprovider", *session.posargs,
                env={"CHAOS_PROFILE": profile})  # fmt: skip


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Continuous load with periodic faults: `nox -s soak -- --duration 3600`.

    Prints ops/s, errors, p99 and each node's RSS per minute and ends with the
    linearizability verdict (exit 1 if the history is not linearizable)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "chaos.soak", *(session.posargs or ["--duration", "120"]))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark matrix into bench/results/ and docs/benchmarks.md (needs redis-benchmark;
    redis-server for the durable-Redis reference). ~20-25 min; `-- --quick` for ~1 s cells,
    `-- --groups` for 1, 3 and 16 data groups side by side (3 interleaved rounds, 8-12 min),
    `-- --peers` for etcd and Redis side by side (2 rounds; `--rounds N` for either),
    `-- --help` for the options."""
    session.install("-e", ".", "matplotlib")
    session.run("python", "-m", "bench", *session.posargs)

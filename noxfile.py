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
    """ruff on everything, mypy --strict on src/."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON)
def cluster(session: nox.Session) -> None:
    """Start a local 3-node cluster in the foreground (Ctrl-C stops every node gracefully).

    `nox -s cluster -- --nodes 5` for another size; see `seshat-trio cluster --help`.
    """
    session.install("-e", ".")
    args = session.posargs or ["--nodes", "3"]
    session.run("seshat-trio", "cluster", *args)


@nox.session(python=PYTHON)
def sim(session: nox.Session) -> None:
    """Long randomized Raft simulation batches: `nox -s sim -- --seeds 20000 --start 1`."""
    session.install("-e", ".[dev]")
    args = session.posargs or ["--seeds", "5000"]
    session.run("python", "-m", "seshat_trio.testing.raftsim", *args)

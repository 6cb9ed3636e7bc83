"""Benchmark harness for seshat-trio: `python -m bench` (or `nox -s bench`).

Modules, one job each:
    model            the records a run produces (cells, results, the run itself)
    matrix           which cells a run measures, in which order
    redis_benchmark  command lines for `redis-benchmark`, parsing its CSV, adaptive sizing
    loadgen          a Trio load generator with per-request latencies
    servers          start/stop the systems under test (seshat cluster, single node, redis)
    machine          facts about the machine and software versions
    goals            the issue's performance targets and how a run measures up to them
    report           JSON and markdown writers
    chart            an optional PNG chart (matplotlib)
    runner           runs the matrix against live servers, with progress and ETA
    cli              the command line
"""

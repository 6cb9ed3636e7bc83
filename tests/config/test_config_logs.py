"""Structured log lines: logfmt and JSON, fixed keys first, one event per line."""

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.logs import configure_logging, get_logger

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield io.StringIO()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_kv_line(stream: io.StringIO) -> None:
    configure_logging("info", "kv", 1, stream)
    get_logger("seshat_trio.raft").bind(group=1).info("became_leader", term=3)
    line = stream.getvalue()
    assert re.fullmatch(
        f"ts={TS} level=info logger=seshat_trio.raft node=1 event=became_leader group=1 term=3\n",
        line,
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain", "plain"),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("", '""'),
        ("line\nbreak", '"line\\nbreak"'),
        ("back\\slash", '"back\\\\slash"'),
        (True, "true"),
        (None, "null"),
        (2.5, "2.5"),
    ],
)
def test_kv_quoting(stream: io.StringIO, value: object, shown: str) -> None:
    configure_logging("info", "kv", None, stream)
    get_logger("t").info("e", v=value)
    assert stream.getvalue().endswith(f" event=e v={shown}\n")


def test_json_line(stream: io.StringIO) -> None:
    configure_logging("debug", "json", 2, stream)
    get_logger("seshat_trio.raft").debug("append", term=3, index=10, ok=True, who="a b")
    record = json.loads(stream.getvalue())
    assert list(record) == ["ts", "level", "logger", "node", "event", "term", "index", "ok", "who"]
    assert re.fullmatch(TS, record["ts"])
    assert record["level"] == "debug" and record["node"] == 2 and record["index"] == 10
    assert record["ok"] is True and record["who"] == "a b"


def test_no_node_field_without_node_id(stream: io.StringIO) -> None:
    configure_logging("info", "json", None, stream)
    get_logger("t").info("e")
    assert "node" not in json.loads(stream.getvalue())


def test_level_filter_and_reconfigure(stream: io.StringIO) -> None:
    configure_logging("warning", "kv", 1, stream)
    configure_logging("warning", "kv", 1, stream)
    log = get_logger("t")
    log.info("hidden")
    log.warning("shown")
    log.error("also_shown")
    events = re.findall(r"event=(\S+)", stream.getvalue())
    assert events == ["shown", "also_shown"]  # once each: the second call replaced the handler


def test_reserved_field_names_do_not_clobber(stream: io.StringIO) -> None:
    configure_logging("info", "json", 1, stream)
    get_logger("t").info("e", level="x", event="y", node=9)
    record = json.loads(stream.getvalue())
    assert (record["level"], record["event"], record["node"]) == ("info", "e", 1)
    assert (record["_level"], record["_event"], record["_node"]) == ("x", "y", 9)


def test_exception_stays_on_one_line(stream: io.StringIO) -> None:
    configure_logging("info", "kv", 1, stream)

    def explode() -> None:
        raise ZeroDivisionError("boom")

    try:
        explode()
    except ZeroDivisionError:
        get_logger("t").exception("failed", step=2)
    [line] = stream.getvalue().splitlines()
    assert ' event=failed step=2 exc="Traceback' in line
    assert "ZeroDivisionError: boom" in json.loads(line.split(" exc=", 1)[1])


def test_plain_stdlib_logging_becomes_event(stream: io.StringIO) -> None:
    configure_logging("info", "kv", 1, stream)
    logging.getLogger("legacy").info("recovered node=%d", 1)
    assert stream.getvalue().endswith('level=info logger=legacy node=1 event="recovered node=1"\n')


@given(value=st.text())
def test_kv_value_round_trip(value: str) -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("info", "kv", None, out)
        get_logger("t").info("e", v=value)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    line = out.getvalue()
    assert line.count("\n") == 1
    shown = line.rstrip("\n").split(" event=e v=", 1)[1]
    assert (json.loads(shown) if shown.startswith('"') else shown) == value

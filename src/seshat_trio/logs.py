"""Structured logging: one event per line, as logfmt (`key=value`) or as a JSON object.

Every line carries `ts` (UTC, ISO 8601, milliseconds), `level`, `logger`, `node` (when
configured) and `event`, then the event's own fields. Code logs events, not sentences:

    log = get_logger(__name__).bind(group=1)
    log.info("became_leader", term=3)
    # ts=2026-01-01T12:00:00.000Z level=info logger=seshat_trio.raft node=1
    #   event=became_leader group=1 term=3

Plain stdlib `logging` calls still work; their formatted message becomes the event.
Field names that collide with the fixed keys are written with a leading underscore.
"""

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from seshat_trio.config.model import LogFormat, LogLevel

_FIELDS_ATTR = "seshat_fields"
_HANDLER_NAME = "seshat-trio"
_RESERVED = frozenset({"ts", "level", "logger", "node", "event", "exc"})


class EventLogger:
    """A stdlib logger that takes an event name and keyword fields."""

    def __init__(self, logger: logging.Logger, fields: Mapping[str, object] | None = None):
        self._logger = logger
        self._fields = dict(fields or {})

    def bind(self, **fields: object) -> "EventLogger":
        """A logger that adds `fields` to every event (e.g. the Raft group)."""
        return EventLogger(self._logger, {**self._fields, **fields})

    def debug(self, event: str, /, **fields: object) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, /, **fields: object) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, /, **fields: object) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, /, **fields: object) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, /, **fields: object) -> None:
        """An error event with the current exception's traceback in `exc`."""
        self._log(logging.ERROR, event, fields, exc_info=True)

    def _log(
        self, level: int, event: str, fields: Mapping[str, object], exc_info: bool = False
    ) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(
                level,
                event,
                exc_info=exc_info,
                extra={_FIELDS_ATTR: {**self._fields, **fields}},
                stacklevel=3,
            )


def get_logger(name: str) -> EventLogger:
    return EventLogger(logging.getLogger(name))


class _EventFormatter(logging.Formatter):
    """Builds the ordered field list of a record; subclasses render it as one line."""

    def __init__(self, node_id: int | None) -> None:
        super().__init__()
        self._node_id = node_id

    def fields(self, record: logging.LogRecord) -> dict[str, object]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, object] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if self._node_id is not None:
            out["node"] = self._node_id
        out["event"] = record.getMessage()
        extra: Mapping[str, object] = getattr(record, _FIELDS_ATTR, {})
        for key, value in extra.items():
            out[f"_{key}" if key in _RESERVED else key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return out


class KvFormatter(_EventFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_kv_value(value)}" for key, value in self.fields(record).items())


class JsonFormatter(_EventFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), default=str, ensure_ascii=False)


def _kv_value(value: object) -> str:
    """logfmt value: bare when unambiguous, else a JSON-style quoted string (so newlines
    in a traceback stay escaped and the event stays on one line)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and all(ch.isprintable() and ch not in ' ="\\' for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def configure_logging(
    level: LogLevel | str,
    fmt: LogFormat | str,
    node_id: int | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send every log record to `stream` (default stderr) in `fmt`, at `level` and above.

    Idempotent: a second call replaces the handler installed by the first.
    """
    formatter_cls = JsonFormatter if LogFormat(fmt) is LogFormat.JSON else KvFormatter
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter_cls(node_id))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(LogLevel(level).upper())

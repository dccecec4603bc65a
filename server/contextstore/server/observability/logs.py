"""Log lines an operator can use: text or JSON, timestamps with their offset, the access log.

Our messages are logfmt (``event=started listen=127.0.0.1:50051``). The text
format prints them as they are; the JSON format makes one object per line
with ``time``, ``level``, ``logger``, ``message``, each logfmt pair as a field
of its own (a pair never replaces those four), and a traceback, if any, as the
one field ``exception``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from datetime import datetime

import grpc

from contextstore.server.callinfo import CallInfo

ACCESS_LOGGER = "contextstore.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# key=value, the value bare or a JSON string (what ``logfmt`` below writes).
_PAIR = re.compile(r'(?:^|(?<=\s))([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in the local time zone, with its offset: 2026-10-12T09:30:00.123+02:00."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return timestamp(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, str] = {
            "time": timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for key, value in parse_logfmt(message).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def parse_logfmt(message: str) -> dict[str, str]:
    """The ``key=value`` pairs of a logfmt message; quoted values unquoted."""
    pairs: dict[str, str] = {}
    for key, value in _PAIR.findall(message):
        if value.startswith('"'):
            with contextlib.suppress(ValueError):  # not ours: kept as written
                value = json.loads(value)
        pairs[key] = value
    return pairs


def logfmt(value: str) -> str:
    """A logfmt value: bare, or a JSON string when it is empty or has spaces, quotes or '='."""
    return value if value and not any(c in value for c in ' "=') else json.dumps(value)


def configure(log_level: str, log_format: str) -> None:
    """The process's logging: ``log_format`` "text" or "json", on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=log_level, handlers=[handler])


class AccessLog:
    """One line per call on the ``contextstore.access`` logger, at INFO."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(ACCESS_LOGGER)

    def write(
        self,
        info: CallInfo,
        code: grpc.StatusCode,
        seconds: float,
        peer: str,
        request_bytes: int,
        response_bytes: int,
    ) -> None:
        self._log.info(
            "method=%s code=%s duration_ms=%.3f identity=%s peer=%s "
            "request_bytes=%d response_bytes=%d",
            info.method, code.name, seconds * 1000, logfmt(info.identity) if info.identity else "-",
            logfmt(peer), request_bytes, response_bytes,
        )  # fmt: skip

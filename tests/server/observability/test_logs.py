"""Log lines: text and JSON, each with a time zone; JSON carries the logfmt pairs as fields and
a traceback as one field; `serve --log-format json` writes one object per line."""

from __future__ import annotations

import json
import logging
import queue
import signal
import subprocess
import sys
import threading
from datetime import datetime

import pytest
from support import clean_env, console_script

from contextstore.server.observability.logs import JsonFormatter, TextFormatter, parse_logfmt

WAIT = 30.0


def _record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    return logging.LogRecord(
        "contextstore.server", logging.INFO, __file__, 1, message, args,
        sys.exc_info() if exc_info else None,
    )  # fmt: skip


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no time zone"
    return moment


def test_json_is_one_object_with_the_logfmt_pairs_as_fields() -> None:
    record = _record("event=started listen=%s backend=memory note=%s", "127.0.0.1:1", "a b=c")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["level"] == "INFO" and fields["logger"] == "contextstore.server"
    assert fields["message"] == "event=started listen=127.0.0.1:1 backend=memory note=a b=c"
    assert (fields["event"], fields["listen"], fields["backend"]) == (
        "started", "127.0.0.1:1", "memory",
    )  # fmt: skip
    assert abs((_aware(fields["time"]) - datetime.now().astimezone()).total_seconds()) < 3600


def test_quoted_values_are_unquoted_and_the_four_fields_are_never_replaced() -> None:
    record = _record('event=x path="dir with space/a.py" level=FAKE message=m time=t')
    fields = json.loads(JsonFormatter().format(record))
    assert fields["path"] == "dir with space/a.py"
    assert fields["level"] == "INFO" and fields["message"].startswith("event=x")
    _aware(fields["time"])


def test_a_traceback_is_one_field() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record("event=sweep_failed", exc_info=True)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["event"] == "sweep_failed"
    assert "Traceback" in fields["exception"] and "RuntimeError: boom" in fields["exception"]


def test_text_lines_start_with_a_time_that_has_its_zone() -> None:
    line = TextFormatter().format(_record("event=started listen=%s", "h:1"))
    stamp, level, logger, message = line.split(" ", 3)
    _aware(stamp)
    assert (level, logger, message) == ("INFO", "contextstore.server", "event=started listen=h:1")


@pytest.mark.parametrize(
    ("message", "pairs"),
    [
        ("event=a n=1", {"event": "a", "n": "1"}),
        ('k="x \\"y\\""', {"k": 'x "y"'}),
        ("free text, no pairs", {}),
        ("empty= next=2", {"empty": "", "next": "2"}),
    ],
)
def test_parse_logfmt(message: str, pairs: dict[str, str]) -> None:
    assert parse_logfmt(message) == pairs


def test_serve_writes_json_lines() -> None:
    process = subprocess.Popen(
        [console_script(), "serve", "--listen", "127.0.0.1:0", "--log-format", "json",
         "--metrics-listen", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=clean_env(),
    )  # fmt: skip
    stderr = process.stderr
    assert stderr is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stderr:
            lines.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # Every line is JSON; the collector's tuning comes first (main._tune_collector).
        frozen = json.loads(lines.get(timeout=WAIT))
        started = json.loads(lines.get(timeout=WAIT))
        metrics = json.loads(lines.get(timeout=WAIT))
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        reader.join(WAIT)
        stderr.close()
    assert frozen["event"] == "heap_frozen"
    assert started["event"] == "started" and started["listen"].startswith("127.0.0.1:")
    _aware(started["time"])
    assert metrics["event"] == "metrics_started" and not metrics["listen"].endswith(":0")
    rest = [json.loads(lines.get_nowait()) for _ in range(lines.qsize())]
    assert [line["event"] for line in rest] == ["stopping", "stopped"]

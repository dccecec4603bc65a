"""``contextstore serve`` as a real process: startup line, signals, configuration, draining.

Every wait is bounded; nothing sleeps to synchronise; subprocesses are killed in ``finally``.
Draining a call that is provably in flight needs a store that blocks on demand, so that part
runs the same ``Server`` in-process.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from support import BlockingStore, clean_env, console_script

from contextstore.client import ContextStoreClient, ContextStoreError, Unavailable
from contextstore.server import __version__
from contextstore.server import main as serve_main
from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

WAIT = 30.0  # the longest any single wait in this module may take


CONTEXTSTORE = console_script()


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A unix socket path must fit in 108 bytes; pytest's tmp_path may not.
    return Path(tmp_path_factory.mktemp("s", numbered=True))


class ServeProcess:
    """A ``contextstore serve`` subprocess whose stderr is read line by line on a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [CONTEXTSTORE, "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = WAIT) -> str:
        """The first (new) stderr line containing ``needle``; fails on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {needle!r} within {timeout}s: {self.lines}") from None
            if line is None:
                self._queue.put(None)
                raise AssertionError(
                    f"exited with {self.proc.wait(WAIT)} before {needle!r}: {self.lines}"
                )
            self.lines.append(line)
            if needle in line:
                return line

    def finish(self, timeout: float = WAIT) -> int:
        """Wait for the exit; collect the rest of stderr; return the exit status."""
        status = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        assert not self._reader.is_alive()
        while (line := self._queue.get_nowait()) is not None:
            self.lines.append(line)
        return status

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@contextmanager
def serving(*args: str, **env: str) -> Iterator[tuple[ServeProcess, str]]:
    """Start ``serve ARGS`` with ``CONTEXTSTORE_*`` from ``env``; yield it and its address."""
    process = ServeProcess(list(args), clean_env(**env))
    try:
        yield process, address_of(process.wait_for("event=started"))
    finally:
        process.kill()


def run_to_exit(*args: str, **env: str) -> tuple[int, str]:
    """Run ``serve ARGS`` that is expected to exit on its own; its status and stderr."""
    process = subprocess.Popen(
        [CONTEXTSTORE, "serve", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**env),
    )
    try:
        _, err = process.communicate(timeout=WAIT)
        return process.returncode, err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=WAIT)


def address_of(started: str) -> str:
    unix = re.search(r'\blisten=(unix:\S+|"unix:[^"]+")', started)
    if unix:
        return unix.group(1).strip('"')
    match = re.search(r"\blisten=(\S+):(\d+)(\s|$)", started)
    assert match, started
    host, port = match.group(1), int(match.group(2))
    assert port != 0, "the started line must show the bound port, not the requested 0"
    return f"{host}:{port}"


def fields_of(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", line))


def cli_json(*args: str) -> Any:
    done = subprocess.run(
        [CONTEXTSTORE, *args, "--json"],
        capture_output=True,
        env=clean_env(),
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- startup, serving, signals -------------------------------------------------


def test_started_line_names_the_bound_address_and_it_serves() -> None:
    with serving("--listen", "127.0.0.1:0") as (process, address):
        started = fields_of(process.lines[-1])
        with ContextStoreClient(address, timeout=WAIT) as client:
            client.session("s").cache_file("a.py", b"print(1)\n", labels={"k": "v"})
            got = client.session("s").get_file("a.py")
            info = client.server_info()

    assert address.startswith("127.0.0.1:")
    assert got is not None
    assert got.content == b"print(1)\n"
    assert got.metadata.labels == {"k": "v"}
    assert started["backend"] == "memory"
    assert started["version"] == info.version
    assert started["max_content_bytes"] == str(16 << 20)
    assert started["max_message_bytes"] == str(17 << 20)
    assert started["max_inflight_response_bytes"] == str(32 << 20)
    assert started["receive_timeout_seconds"] == "5"


def test_startup_objects_are_left_out_of_later_garbage_collections() -> None:
    # Frozen before the started line: full collections under load only walk new objects.
    with serving("--listen", "127.0.0.1:0") as (process, _):
        frozen = fields_of(next(line for line in process.lines if "event=heap_frozen" in line))

    assert int(frozen["objects"]) > 10_000
    # Young collections every few calls cost GetFile ~6% of its CPU (main._tune_collector).
    assert int(frozen["young_threshold"]) == serve_main.YOUNG_COLLECTION_THRESHOLD > 700


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_with_exit_0(signum: signal.Signals) -> None:
    with serving("--listen", "127.0.0.1:0", "--grace-seconds", "3") as (process, address):
        with ContextStoreClient(address, timeout=WAIT) as client:
            client.cache_file("x", b"x")

        process.proc.send_signal(signum)
        status = process.finish()

    assert status == 0, process.output
    stopping = [line for line in process.lines if "event=stopping" in line]
    assert len(stopping) == 1, process.output
    assert fields_of(stopping[0])["signal"] == signum.name
    assert fields_of(stopping[0])["grace_seconds"] == "3"
    assert "event=stopped" in process.lines[-1]
    assert "Traceback" not in process.output


def test_signal_right_after_the_started_line_still_drains() -> None:
    # A supervisor may signal the moment it reads the started line; handlers must be in place.
    for _ in range(5):
        with serving("--listen", "127.0.0.1:0") as (process, _address):
            process.proc.send_signal(signal.SIGTERM)
            status = process.finish()

        assert status == 0, process.output
        assert "event=stopped" in process.output


def test_server_is_gone_after_sigterm() -> None:
    with serving("--listen", "127.0.0.1:0") as (process, address):
        process.proc.send_signal(signal.SIGTERM)
        assert process.finish() == 0

        with (
            ContextStoreClient(address, timeout=WAIT) as client,
            pytest.raises(Unavailable),
        ):
            client.cache_file("late", b"x")


def test_listen_from_environment() -> None:
    with (
        serving(CONTEXTSTORE_LISTEN="127.0.0.1:0") as (_process, address),
        ContextStoreClient(address, timeout=WAIT) as client,
    ):
        assert client.store_stats().files == 0


def test_port_another_socket_holds_is_one_clear_line_and_exit_1() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"

        status, err = run_to_exit("--listen", address)

    # Exactly this: not grpcio's own C-core line first, nor a log line or a traceback.
    assert (status, err) == (1, f"contextstore serve: address already in use: {address}\n")


def test_port_another_server_holds_is_one_clear_line_and_exit_1(server: Server) -> None:
    status, err = run_to_exit("--listen", server.address)

    assert (status, err) == (1, f"contextstore serve: address already in use: {server.address}\n")


def test_unix_socket_a_live_server_holds_is_refused(short_tmp: Path) -> None:
    listen = f"unix:{short_tmp}/cs.sock"
    with serving("--listen", listen) as (_first, _address):
        status, err = run_to_exit("--listen", listen)

    assert (status, err) == (1, f"contextstore serve: address already in use: {listen}\n")


def test_unix_socket_in_a_missing_directory_is_one_clear_line(short_tmp: Path) -> None:
    status, err = run_to_exit("--listen", f"unix:{short_tmp}/no/cs.sock")

    assert status == 1
    assert err == (
        f"contextstore serve: could not listen on unix:{short_tmp}/no/cs.sock: "
        f"no such directory: {short_tmp}/no\n"
    )


def test_serves_on_a_unix_socket_and_logs_its_path(short_tmp: Path) -> None:
    listen = f"unix:{short_tmp}/cs.sock"
    with (
        serving("--listen", listen) as (process, address),
        ContextStoreClient(address, timeout=WAIT) as client,
    ):
        client.cache_file("a", b"over a unix socket")
        got = client.get_file("a")

    assert address == listen
    assert fields_of(process.lines[-1])["listen"] == listen
    assert got is not None
    assert got.content == b"over a unix socket"


def test_started_line_quotes_a_unix_path_with_a_space(short_tmp: Path) -> None:
    (short_tmp / "a b").mkdir()
    listen = f"unix:{short_tmp}/a b/cs.sock"
    with (
        serving("--listen", listen) as (process, address),
        ContextStoreClient(address, timeout=WAIT) as client,
    ):
        assert client.store_stats().files == 0

    assert address == listen
    assert f'listen="{listen}"' in process.lines[-1]


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1:65536", "[::1]:70000"])
def test_port_out_of_range_is_a_usage_error(listen: str) -> None:
    status, err = run_to_exit("--listen", listen)

    port = listen.rsplit(":", 1)[1]
    assert status == 2, err
    assert f"argument --listen: port '{port}' is not 0 to 65535" in err
    assert "event=started" not in err
    assert "Traceback" not in err


def test_port_out_of_range_in_the_environment_exits_2() -> None:
    status, err = run_to_exit(CONTEXTSTORE_LISTEN="127.0.0.1:99999")

    assert (status, err) == (
        2,
        "contextstore serve: CONTEXTSTORE_LISTEN='127.0.0.1:99999': "
        "port '99999' is not 0 to 65535 (0 picks a free one)\n",
    )


# -- configuration -------------------------------------------------------------


def test_environment_configures_the_server() -> None:
    env = {"CONTEXTSTORE_MAX_BATCH_ITEMS": "7", "CONTEXTSTORE_MAX_CONTENT_BYTES": "64KiB"}
    with serving("--listen", "127.0.0.1:0", **env) as (process, address):
        limits = cli_json("info", "--target", address)["limits"]
        started = fields_of(process.lines[-1])

    assert int(limits["max_batch_items"]) == 7  # int64: a string in protobuf's JSON
    assert int(limits["max_content_bytes"]) == 64 << 10
    assert int(limits["max_message_bytes"]) == (64 << 10) + (1 << 20)
    assert started["max_batch_items"] == "7"
    assert started["max_content_bytes"] == str(64 << 10)


def test_flag_beats_environment() -> None:
    args = ("--listen", "127.0.0.1:0", "--max-batch-items", "9", "--stripes", "3")
    env = {"CONTEXTSTORE_MAX_BATCH_ITEMS": "7", "CONTEXTSTORE_MAX_LABELS": "5"}
    with serving(*args, **env) as (_process, address):
        info = cli_json("info", "--target", address)

    assert int(info["limits"]["max_batch_items"]) == 9
    assert int(info["limits"]["max_labels"]) == 5  # no flag: the environment still applies
    assert info["backend_properties"]["stripes"] == "3"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CONTEXTSTORE_MAX_BATCH_ITEMS", "lots"),
        ("CONTEXTSTORE_MAX_CONTENT_BYTES", "16XB"),
        ("CONTEXTSTORE_GRACE_SECONDS", "soon"),
    ],
)
def test_invalid_environment_value_exits_naming_the_variable(variable: str, value: str) -> None:
    status, err = run_to_exit("--listen", "127.0.0.1:0", **{variable: value})

    assert status == 2, err
    assert err.startswith("contextstore serve: ")
    assert variable in err
    assert repr(value) in err
    assert "event=started" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CONTEXTSTORE_BACKEND": "disk"},
            "CONTEXTSTORE_BACKEND: 'disk' is not one of memory, redis",
        ),
        ({"CONTEXTSTORE_WORKERS": "-2"}, "CONTEXTSTORE_WORKERS must be at least 1, got -2"),
        ({"CONTEXTSTORE_WORKERS": "0"}, "CONTEXTSTORE_WORKERS must be at least 1, got 0"),
    ],
)
def test_invalid_environment_setting_exits_2(env: dict[str, str], message: str) -> None:
    status, err = run_to_exit("--listen", "127.0.0.1:0", **env)

    assert status == 2, err
    assert message in err
    assert "event=started" not in err


def test_invalid_flag_is_a_usage_error() -> None:
    status, err = run_to_exit("--listen", "127.0.0.1:0", "--max-content-bytes", "lots")

    assert status == 2
    assert "--max-content-bytes" in err
    assert "event=started" not in err


def test_serve_help_lists_flags_and_variables() -> None:
    done = subprocess.run(
        [CONTEXTSTORE, "serve", "--help"], capture_output=True, text=True, timeout=WAIT
    )

    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "--max-batch-items" in text
    assert "CONTEXTSTORE_MAX_BATCH_ITEMS" in text
    assert "default 16 MiB]" in text
    assert "default 1h]" in text
    assert "--log-level {DEBUG,INFO,WARNING,ERROR,CRITICAL}" in text
    assert "``" not in text


def test_serve_version_is_the_servers() -> None:
    done = subprocess.run(
        [CONTEXTSTORE, "serve", "--version"], capture_output=True, text=True, timeout=WAIT
    )

    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"contextstore serve {__version__}\n",
        "",
    )


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--log-level", "verbose"], {}),
        ([], {"CONTEXTSTORE_LOG_LEVEL": "verbose"}),
    ],
    ids=["flag", "environment"],
)
def test_unknown_log_level_is_a_usage_error_listing_the_levels(
    args: list[str], env: dict[str, str]
) -> None:
    status, err = run_to_exit("--listen", "127.0.0.1:0", *args, **env)

    assert status == 2, err
    assert "VERBOSE" in err
    for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        assert level in err
    assert "Traceback" not in err
    assert "event=started" not in err


def test_log_level_in_lower_case_is_applied(short_tmp: Path) -> None:
    # At WARNING the started line (INFO) is not logged: the test knows the
    # address in advance (a unix socket) and waits for the server to accept.
    listen = f"unix:{short_tmp}/cs.sock"
    process = ServeProcess(["--listen", listen], clean_env(CONTEXTSTORE_LOG_LEVEL="warning"))
    try:
        with grpc.insecure_channel(listen) as channel:
            grpc.channel_ready_future(channel).result(timeout=WAIT)
        process.proc.send_signal(signal.SIGTERM)
        status = process.finish()
    finally:
        process.kill()

    assert status == 0, process.output
    assert process.output == ""  # neither event=started nor event=stopped (INFO)


def _seconds(duration: Any) -> float:
    """A Duration as the CLI's JSON prints it: "900s" (protobuf JSON) or a number."""
    return float(duration.removesuffix("s")) if isinstance(duration, str) else float(duration)


def test_sizes_and_durations_in_the_forms_people_type() -> None:
    args = (
        "--max-content-bytes",
        "16MB",
        "--total-bytes",
        "1.5GiB",
        "--session-ttl-seconds",
        "15m",
    )
    with serving("--listen", "127.0.0.1:0", *args, CONTEXTSTORE_SESSION_BYTES="64m") as (_p, addr):
        limits = cli_json("info", "--target", addr)["limits"]

    assert int(limits["max_content_bytes"]) == 16_000_000
    assert int(limits["total_bytes"]) == 3 << 29
    assert int(limits["session_bytes"]) == 64 << 20
    assert _seconds(limits["session_ttl"]) == 900.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--max-content-bytes", "4GiB"],
            "--max-content-bytes / CONTEXTSTORE_MAX_CONTENT_BYTES must",
        ),
        (
            ["--sweep-seconds", "99999999999999999999h"],
            "CONTEXTSTORE_SWEEP_SECONDS must be at most",
        ),
        (["--grace-seconds", "9999d"], "CONTEXTSTORE_GRACE_SECONDS must be at most 3650d"),
        (["--stripes", "1000000000"], "CONTEXTSTORE_STRIPES must be at most 4096"),
        (["--workers", "1000000000"], "CONTEXTSTORE_WORKERS must be at most 4096"),
        (["--listen", "127.0.0.1:x"], "argument --listen: port 'x' is not 0 to 65535"),
        (["--max-content-bytes", "1.5B"], "not a whole number of bytes"),
    ],
)
def test_values_that_broke_inside_grpcio_or_a_timer_are_refused(
    args: list[str], message: str
) -> None:
    # Each of these used to start and then end in a traceback (grpcio's C-int
    # message limits, a timer's overflow), or to eat all memory (stripes).
    status, err = run_to_exit("--listen", "127.0.0.1:0", *args)

    assert status == 2, err
    assert message in err
    assert "Traceback" not in err
    assert "event=started" not in err


def test_ctrl_c_while_starting_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before the handlers are in place a SIGINT is a KeyboardInterrupt wherever
    # startup is; building the server is where it takes longest.
    def interrupted(config: ServerConfig) -> Server:
        raise KeyboardInterrupt

    monkeypatch.setattr(serve_main, "build_server", interrupted)
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)  # leave pytest's alone

    try:
        status = serve_main.main(["--listen", "127.0.0.1:0"])
    except KeyboardInterrupt:  # caught here: escaping, it would stop the whole test run
        pytest.fail("Ctrl-C while starting escaped main(): a traceback")
    assert status == 130
    assert capsys.readouterr() == ("", "")


# -- draining (in-process) -----------------------------------------------------


DRAIN_CONFIG = ServerConfig(listen="127.0.0.1:0", workers=4, grace_seconds=WAIT)


def _wait_until_refused(address: str) -> list[str]:
    """Call with fresh channels until the server answers UNAVAILABLE; the refusal codes seen.

    A call racing the very start of shutdown can be CANCELLED by gRPC instead; once refused,
    no new call may be accepted again.
    """
    codes: list[str] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with ContextStoreClient(address, timeout=5) as probe:
            try:
                probe.cache_file("probe", b"")  # not retried by the client
            except ContextStoreError as error:
                codes.append(error.code.name)
                if isinstance(error, Unavailable):
                    return codes
            else:
                assert not codes, f"a new call was accepted after refusals {codes}"
    raise AssertionError(f"the server kept accepting new calls while stopping: {codes}")


@pytest.fixture
def blocking() -> Iterator[tuple[Server, BlockingStore]]:
    store = BlockingStore(only="slow")
    server = Server(DRAIN_CONFIG, store=store)
    server.start()
    try:
        yield server, store
    finally:
        store.release.set()
        server.stop(grace=0)


def test_stop_drains_an_in_flight_call(blocking: tuple[Server, BlockingStore]) -> None:
    server, store = blocking
    with (
        ContextStoreClient(server.address, timeout=WAIT) as client,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        client.cache_file("slow", b"payload")
        in_flight = pool.submit(client.get_file, "slow")
        assert store.entered.wait(WAIT)

        stopping = pool.submit(server.stop, WAIT)
        refusals = _wait_until_refused(server.address)
        # Refusing new calls, still holding the old one, not yet stopped.
        assert not in_flight.done()
        assert not stopping.done()

        store.release.set()
        got = in_flight.result(timeout=WAIT)
        stopping.result(timeout=WAIT)

    assert set(refusals) <= {"CANCELLED", "UNAVAILABLE"}, refusals
    assert got is not None
    assert got.content == b"payload"


def test_new_calls_after_stop_are_unavailable(blocking: tuple[Server, BlockingStore]) -> None:
    server, _store = blocking
    with ContextStoreClient(server.address, timeout=WAIT) as client:
        client.cache_file("a", b"a")
        server.stop(grace=WAIT)

        with pytest.raises(Unavailable):
            client.cache_file("b", b"b")
        with pytest.raises(Unavailable):
            client.get_file("a")  # retried reads give up too


def test_grace_period_bounds_the_drain(blocking: tuple[Server, BlockingStore]) -> None:
    server, store = blocking
    with (
        ContextStoreClient(server.address, timeout=WAIT) as client,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        client.cache_file("slow", b"payload")
        in_flight = pool.submit(client.get_file, "slow")
        assert store.entered.wait(WAIT)

        started = time.monotonic()
        server.stop(grace=0.5)  # never released: the grace period must end the wait
        took = time.monotonic() - started

        with pytest.raises(ContextStoreError):
            in_flight.result(timeout=WAIT)
        store.release.set()

    assert took < WAIT / 2

"""``contextstore watch``, through the real command: lines, JSON Lines, live changes, failures."""

from __future__ import annotations

import json
import subprocess

from cli.cli_support import CONTEXTSTORE, Cli
from support import clean_env


def _listed_revision(cli: Cli, session: str) -> str:
    revision: str = cli.json("ls", "--session", session)["revision"]
    assert int(revision) > 0
    return revision


def test_watch_replays_changes_after_a_revision_a_line_per_event(cli: Cli) -> None:
    cli.ok("put", "a.py", "--session", "s", stdin=b"a")
    start = _listed_revision(cli, "s")
    cli.ok("put", "src/b.py", "--session", "s", stdin=b"b")
    cli.ok("analysis", "put", "src/b.py", "ast", "--session", "s", stdin=b"t")
    cli.ok("put", "src/b.py", "--session", "s", stdin=b"b2")
    cli.ok("invalidate", "a.py", "--session", "s")
    cli.ok("clear", "--session", "s")

    lines = cli.text("watch", "--session", "s", "--from", start, "--count", "5").splitlines()
    words = [line.split() for line in lines]
    assert [w[1:3] for w in words] == [
        ["FILE_CACHED", "src/b.py"],
        ["ANALYSIS_CACHED", "src/b.py"],
        ["ANALYSIS_REMOVED", "src/b.py"],
        ["FILE_CACHED", "src/b.py"],
        ["FILE_INVALIDATED", "a.py"],
        ["SESSION_CLEARED"],
    ]
    assert "type=ast" in words[2] and "reason=stale" in words[2]
    assert words[2][0] == words[3][0], "one revision: the stale drop and the write"
    assert [int(w[0]) for w in words] == sorted(int(w[0]) for w in words)

    only = cli.text(
        "watch", "--session", "s", "--from", start, "--prefix", "a", "--count", "2"
    ).splitlines()
    assert [line.split()[1] for line in only] == ["FILE_INVALIDATED", "SESSION_CLEARED"]


def test_watch_json_prints_one_response_a_line(cli: Cli) -> None:
    start = _listed_revision(cli, "j")
    cli.ok("put", "x.py", "--session", "j", stdin=b"x")
    out = cli.ok("watch", "--session", "j", "--from", start, "--count", "1", "--json")
    (line,) = out.decode().splitlines()
    response = json.loads(line)
    assert response["progress"] is False and int(response["revision"]) > int(start)
    (event,) = response["events"]
    assert (event["kind"], event["path"]) == ("WATCH_EVENT_KIND_FILE_CACHED", "x.py")


def test_watch_from_now_prints_changes_as_they_happen(cli: Cli) -> None:
    command = [CONTEXTSTORE, "watch", "--target", cli.address, "--session", "live", "--progress",
               "--count", "1"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=clean_env()) as watching:
        assert watching.stdout is not None
        first = watching.stdout.readline().decode().split()
        assert first[1] == "PROGRESS", "the stream is open: what is written now is seen"
        cli.ok("put", "now.py", "--session", "live", stdin=b"x")
        assert watching.stdout.readline().decode().split()[1:3] == ["FILE_CACHED", "now.py"]
        assert watching.wait(30) == 0


def test_watch_refuses_what_it_cannot_serve(cli: Cli) -> None:
    cli.ok("put", "a.py", stdin=b"a")
    assert "compacted" in cli.fails("watch", "--from", "1", status=64 + 11)  # OUT_OF_RANGE
    assert "ahead" in cli.fails("watch", "--from", str(1 << 62), status=64 + 3)
    for bad in ("-1", "x", "²", "9" * 30):
        assert "not a whole number" in cli.usage_error("watch", "--from", bad)

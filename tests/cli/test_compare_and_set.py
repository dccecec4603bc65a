"""``put`` and ``invalidate`` with ``--if-version`` / ``--if-sha256``, through the real command."""

from __future__ import annotations

import hashlib
import json

from cli.cli_support import Cli, human_rows


def test_put_if_version_stores_over_the_version_meta_printed(cli: Cli) -> None:
    cli.ok("put", "a.txt", "--if-version", "0", stdin=b"one")
    version = human_rows(cli.text("meta", "a.txt"))["version"]
    cli.ok("put", "a.txt", "--if-version", version, stdin=b"two")

    stale = cli("put", "a.txt", "--if-version", version, stdin=b"three")

    assert stale.returncode == 74  # 64 + ABORTED
    current = human_rows(cli.text("meta", "a.txt"))["version"]
    assert f"version {current}" in stale.stderr.decode()
    assert cli.ok("get", "a.txt") == b"two"


def test_put_if_sha256_and_a_json_failure_carries_the_error_info(cli: Cli) -> None:
    cli.ok("put", "a.txt", stdin=b"one")
    cli.ok("put", "a.txt", "--if-sha256", hashlib.sha256(b"one").hexdigest(), stdin=b"two")

    failed = cli("put", "a.txt", "--json", "--if-sha256", "00" * 32, stdin=b"x")

    assert failed.returncode == 74
    status = json.loads(failed.stderr)
    assert status["code"] == 10
    info = status["details"][0]
    assert info["reason"] == "PRECONDITION_FAILED"
    assert info["metadata"]["current_sha256"] == hashlib.sha256(b"two").hexdigest()


def test_invalidate_if_version_drops_only_the_file_it_names(cli: Cli) -> None:
    cli.ok("put", "a.txt", stdin=b"one")
    version = int(human_rows(cli.text("meta", "a.txt"))["version"])

    assert cli("invalidate", "a.txt", "--if-version", str(version + 1)).returncode == 74
    cli.ok("invalidate", "a.txt", "--if-version", str(version))
    assert cli("get", "a.txt").returncode == 1


def test_bad_preconditions_are_usage_errors(cli: Cli) -> None:
    for flags in (["--if-version", "-1"], ["--if-version", "²"], ["--if-version", "9" * 30],
                  ["--if-sha256", "abc"], ["--files", "x", "--if-version", "0"]):  # fmt: skip
        done = cli("put", *(["a.txt"] if "--files" not in flags else []), *flags, stdin=b"x")
        assert done.returncode == 2, (flags, done.stderr)
        assert b"Traceback" not in done.stderr

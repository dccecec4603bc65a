"""The README's command-line section: its examples run as written, its exit table is the CLI's."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from cli.cli_support import CONTEXTSTORE
from support import clean_env

from contextstore.cli import exits
from contextstore.server.app import Server

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    match = re.search(r"### Command line\n(.*?)\n### ", README.read_text(), re.S)
    assert match, "the README lost its command-line section"
    return match.group(1)


def test_the_examples_run_as_written_in_an_empty_directory(server: Server, tmp_path: Path) -> None:
    match = re.search(r"```sh\n(.*?)```", section(), re.S)
    assert match, "the command-line section lost its example"
    # As the README says: the venv's bin on PATH (`source .venv/bin/activate`).
    path = f"{Path(CONTEXTSTORE).parent}{os.pathsep}{os.environ['PATH']}"
    env = clean_env(CONTEXTSTORE_TARGET=server.address, PATH=path)

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", match.group(1)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for said in ('print("hi")\n', '{"kind": "Module"}\n', "cached 3 file(s)\n",
                 "==> demo/a.py <==\na = 1\n\n==> demo/lib/b.py <==\nb = 2\n"):  # fmt: skip
        assert said in done.stdout


def test_the_exit_status_table_is_the_one_the_command_uses() -> None:
    rows = re.findall(r"^\| (\d+) \| (.*) \|$", section(), re.M)

    assert [(int(status), meaning) for status, meaning in rows] == exits.table()

"""``ls`` and ``invalidate --prefix``, through the real command."""

from __future__ import annotations

from pathlib import Path

from cli.cli_support import Cli


def test_ls_lists_every_page_in_path_order(cli: Cli, tmp_path: Path) -> None:
    paths = [f"src/m{i:03d}.py" for i in range(130)] + ["b.txt"]  # more than one page of 100
    for path in paths:
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_bytes(path.encode())
    cli.inside(tmp_path).ok("put", "--files", "src", "b.txt", "--session", "s")

    lines = cli.text("ls", "src/", "--session", "s").splitlines()
    assert [line.split()[0] for line in lines] == sorted(p for p in paths if p.startswith("src/"))
    assert lines[0].split()[1:3] == ["11", "bytes"]
    listed = cli.json("ls", "--session", "s")
    assert [f["path"] for f in listed["files"]] == sorted(paths)
    assert listed["next_page_token"] == ""
    assert cli.text("ls", "--session", "empty") == ""


def test_invalidate_prefix_drops_the_paths_under_it(cli: Cli) -> None:
    for path in ("a/1", "a/2", "ab"):
        cli.ok("put", path, stdin=b"x")
    cli.ok("analysis", "put", "a/1", "ast", stdin=b"t")

    assert cli.text("invalidate", "--prefix", "a/") == "removed 2 file(s), 1 analysis(es)\n"
    assert [line.split()[0] for line in cli.text("ls").splitlines()] == ["ab"]


def test_invalidate_takes_a_path_or_a_prefix(cli: Cli) -> None:
    for args in (["a", "--prefix", "b"], [], ["--prefix", "a/", "--analyses"], ["--prefix", ""]):
        done = cli("invalidate", *args)
        assert done.returncode in (2, 67), (args, done.stderr)  # usage, or INVALID_ARGUMENT
        assert b"Traceback" not in done.stderr

"""Shell completion, generated from the argument parser (``contextstore completion``).

The bash script is sourced into a real bash and its completion function is
asked what it offers, as bash would on TAB; zsh is not on every machine, so
its script is checked for what zsh needs to find and use it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli.cli_support import run

COMMANDS = {"put", "get", "meta", "analysis", "invalidate", "clear", "stats", "store-stats",
            "info", "completion", "serve", "bench"}  # fmt: skip


def script(shell: str) -> str:
    done = run("completion", shell)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    return done.stdout.decode()


def offered(completion: Path, line: str, cwd: Path) -> set[str]:
    """What bash offers on TAB at the end of ``line``."""
    words = line.split(" ")
    program = f"""
source {completion}
COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({" ".join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}
_shtab_contextstore contextstore {words[-1]!r} {words[-2]!r}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True, text=True, cwd=cwd, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_bash_completes_commands_flags_choices_and_files(tmp_path: Path) -> None:
    completion = tmp_path / "contextstore.bash"
    completion.write_text(script("bash"))
    (tmp_path / "notes.txt").write_text("n")

    assert offered(completion, "contextstore ", tmp_path) >= COMMANDS
    assert offered(completion, "contextstore put --fi", tmp_path) == {"--files"}
    assert offered(completion, "contextstore get --max", tmp_path) == {"--max-message-bytes"}
    assert offered(completion, "contextstore analysis ", tmp_path) == {"put", "get"}
    assert offered(completion, "contextstore completion ", tmp_path) == {"bash", "zsh"}
    assert offered(completion, "contextstore put x --from no", tmp_path) == {"notes.txt"}


def test_zsh_script_defines_the_completion_of_every_command() -> None:
    text = script("zsh")

    assert text.startswith("#compdef contextstore")
    for command in COMMANDS - {"serve", "bench"}:
        assert f"\n    {command}:'" in text, command
    for flag in ("--files", "--from", "--label", "--session", "--json", "--max-message-bytes"):
        assert flag in text, flag
    assert ":_files" in text  # --from and --files complete file names


def test_completion_without_its_extra_names_it() -> None:
    # A None in sys.modules makes `import shtab` fail as if it were not installed.
    code = (
        "import sys; sys.modules['shtab'] = None\n"
        "from contextstore.cli.main import main\n"
        "sys.exit(main(['completion', 'bash']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "pip install 'contextstore-grpc[cli]'" in done.stderr


def test_unknown_shell_is_a_usage_error() -> None:
    done = run("completion", "tcsh")

    assert done.returncode == 2
    assert b"invalid choice: 'tcsh'" in done.stderr

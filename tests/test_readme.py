"""The README's Python example runs as written, against a real server."""

from __future__ import annotations

import re
from pathlib import Path

from contextstore.client import DEFAULT_TARGET
from contextstore.server.app import Server

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_example_runs(server: Server) -> None:
    match = re.search(r"### Python\n.*?```python\n(.*?)```", README.read_text(), re.S)
    assert match, "the README lost its Python example"
    code = match.group(1)
    assert DEFAULT_TARGET in code
    exec(compile(code.replace(DEFAULT_TARGET, server.address), "README.md", "exec"), {})

"""What may import what: the contracts in pyproject.toml, checked by import-linter.

Every import counts, lazy ones inside functions included, and so do indirect
ones (the load generator importing the client, which imported the server,
would break the load generator's contract too).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).parent.parent
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]


def forbids(source: str, forbidden: str) -> bool:
    return any(
        c["type"] == "forbidden"
        and source in c["source_modules"]
        and forbidden in c["forbidden_modules"]
        for c in CONTRACTS
    )


def test_the_contracts_state_the_directions() -> None:
    # Removing a contract must fail here, not pass silently.
    for part in ("server", "cli", "bench"):
        assert forbids("contextstore.client", f"contextstore.{part}")
    for part in ("client", "cli", "bench"):
        assert forbids("contextstore.server", f"contextstore.{part}")
    for part in ("server", "cli"):
        assert forbids("contextstore.bench", f"contextstore.{part}")


def test_every_contract_is_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0

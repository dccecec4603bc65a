"""The built wheel, installed with no extras into a fresh virtualenv, as a user would.

The client alone needs only grpcio, protobuf, grpcio-status and
googleapis-common-protos; the server, the load generator and their extras'
libraries must neither come along nor be importable, and the command must say
which extra to install instead of printing a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contextstore.server.app import Server
from contextstore.server.config import ServerConfig

ROOT = Path(__file__).parent.parent.parent
DISTRIBUTION = "contextstore-grpc"
BASE_REQUIREMENTS = {"grpcio", "grpcio-status", "protobuf", "googleapis-common-protos"}

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    command: Path

    def run(self, *argv: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
        args = [str(self.python), "-c", code] if code is not None else [str(self.command), *argv]
        # Run outside the checkout, so nothing is imported from the source tree.
        return subprocess.run(args, capture_output=True, text=True, cwd=self.wheel.parent)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    out = tmp_path_factory.mktemp("wheel")
    # An sdist first, then the wheel from it, as a release is built: what the
    # sdist lacks, the wheel lacks, and nothing stale in the checkout gets in.
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = out.glob("*.whl")
    env = out / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    yield Installed(wheel, python, env / "bin" / "contextstore")


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    server = Server(ServerConfig(listen="127.0.0.1:0"))
    server.start()
    yield server.address
    server.stop(grace=0)


def test_the_wheel_holds_the_packages_and_the_license_not_the_benchmarks(
    installed: Installed,
) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert not [n for n in names if n.startswith(("benchmarks/", "devtools/"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Every package in the source folders, so one missing from pyproject's list fails here.
    for package in _source_packages():
        assert f"contextstore/{package}/__init__.py" in names
    # The Redis backend loads its functions from this file, next to its code.
    assert "contextstore/server/store/redis/library.lua" in names


def _source_packages() -> list[str]:
    folders = ("server", "client/python", "protos/python")
    found = [
        init.parent.relative_to(ROOT / folder / "contextstore").as_posix()
        for folder in folders
        for init in (ROOT / folder / "contextstore").rglob("__init__.py")
    ]
    assert {"client", "v1", "server", "server/store/redis", "server/security"} <= set(found)
    return found


def test_the_client_alone_requires_only_grpc_and_protobuf(installed: Installed) -> None:
    code = (
        "from importlib.metadata import requires\n"
        f"print('\\n'.join(r for r in requires('{DISTRIBUTION}') if 'extra ==' not in r))"
    )
    done = installed.run(code=code)
    names = {line.split(">")[0].split("<")[0].split("=")[0] for line in done.stdout.split()}
    assert {n for n in names if n} == BASE_REQUIREMENTS


def test_the_client_makes_a_call(installed: Installed, address: str) -> None:
    code = (
        "from contextstore.client import ContextStoreClient\n"
        f"with ContextStoreClient({address!r}) as c:\n"
        "    s = c.session('wheel')\n"
        "    s.cache_file('a.py', b'from the wheel')\n"
        "    print(s.get_file('a.py').content.decode())\n"
    )
    done = installed.run(code=code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "from the wheel"


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("contextstore.server", "server"),
        ("contextstore.server.store.memory", "server"),
        ("contextstore.server.main", "server"),
        ("contextstore.bench", "bench"),
        ("contextstore.bench.runner", "bench"),
    ],
)
def test_nothing_of_the_server_or_load_generator_imports_without_its_extra(
    installed: Installed, module: str, extra: str
) -> None:
    done = installed.run(code=f"import {module}")
    assert done.returncode != 0
    assert f"pip install '{DISTRIBUTION}[{extra}]'" in done.stderr


@pytest.mark.parametrize(("command", "extra"), [("serve", "server"), ("bench", "bench")])
def test_the_command_names_the_missing_extra(
    installed: Installed, command: str, extra: str
) -> None:
    done = installed.run(command, "--help")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"contextstore {command}: " in done.stderr
    assert f"pip install '{DISTRIBUTION}[{extra}]'" in done.stderr


def test_client_commands_need_no_extra(installed: Installed, address: str) -> None:
    put = subprocess.run(
        [str(installed.command), "put", "b.py", "--session", "wheel", "--target", address],
        input="cli", capture_output=True, text=True,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    got = installed.run("get", "b.py", "--session", "wheel", "--target", address)
    assert (got.returncode, got.stdout) == (0, "cli")

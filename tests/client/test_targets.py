"""Targets without a port mean contextstore's port, 50051, not gRPC's 443."""

from __future__ import annotations

import pytest

from contextstore.client.targets import with_default_port


@pytest.mark.parametrize(
    ("target", "meant"),
    [
        ("localhost", "localhost:50051"),
        ("localhost:7", "localhost:7"),
        ("10.0.0.1", "10.0.0.1:50051"),
        ("[::1]", "[::1]:50051"),
        ("[::1]:7", "[::1]:7"),
        ("::1", "[::1]:50051"),
        ("unix:/run/contextstore.sock", "unix:/run/contextstore.sock"),
        ("dns:///cache.internal:7", "dns:///cache.internal:7"),
    ],
)
def test_which_targets_get_the_default_port(target: str, meant: str) -> None:
    assert with_default_port(target) == meant

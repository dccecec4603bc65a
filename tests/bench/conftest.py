"""Fixtures of the load generator's tests."""

from __future__ import annotations

from client.secure_servers import secure

__all__ = ["secure"]  # TLS servers: client/secure_servers.py (their certificates: conftest pki)

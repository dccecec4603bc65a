"""Fixtures of the load generator's tests."""

from __future__ import annotations

from client.secure_servers import pki, secure

__all__ = ["pki", "secure"]  # TLS servers and their certificates: client/secure_servers.py

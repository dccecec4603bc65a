"""Where a client connects: the default port, for targets given without one.

gRPC alone takes port 443 for a bare host; contextstore serves on 50051, so
every tool that takes a target (the CLI, the load generator) reads a bare host
as ``host:50051``.
"""

from __future__ import annotations

import ipaddress

DEFAULT_PORT = 50051
# Targets with one of these schemes are for gRPC's resolver to read, as given.
_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:")


def with_default_port(target: str) -> str:
    """``host`` -> ``host:50051``; gRPC alone would take port 443 for a bare host.

    A target with a port, a scheme (``unix:/path``, ``dns:///host:1``) or
    brackets with a port is left as it is; a bare IPv6 address is bracketed.
    """
    if target.startswith(_SCHEMES):
        return target
    if target.startswith("["):
        return target if "]:" in target else f"{target}:{DEFAULT_PORT}"
    if target.count(":") == 0:
        return f"{target}:{DEFAULT_PORT}"
    if target.count(":") > 1 and _is_ipv6(target):
        return f"[{target}]:{DEFAULT_PORT}"
    return target


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True

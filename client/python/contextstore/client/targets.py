"""Where a client connects: one address, a list of them, or a name gRPC resolves.

A target is what ``grpc.insecure_channel`` takes (``host:port``,
``dns:///name:port``, ``unix:/path``...) or, for several servers, a
comma-separated list of IP addresses with ports (``10.0.0.1:50051,10.0.0.2:50051``).
gRPC's C core reads a list only in its ``ipv4:``/``ipv6:`` form, so
``channel_target`` rewrites one into that form; the channel's ``round_robin``
policy (``_calls.channel_options``) then spreads calls over every address.

A list takes IP addresses, not host names: a name in a list is refused with a
``ValueError`` rather than resolved once here. Resolving here would block the
constructor (the asyncio client's too) on DNS and freeze the answer for the
channel's life; ``dns:///name:port`` already means "every address of this
name", and gRPC re-resolves it when a connection drops.

gRPC alone takes port 443 for a bare host; contextstore serves on 50051, so
every tool that takes a target (the CLI, the load generator) reads a bare host
as ``host:50051`` (``with_default_port``), per address in a list.
"""

from __future__ import annotations

import ipaddress

DEFAULT_PORT = 50051
# Targets with one of these schemes are for gRPC's resolver to read, as given.
_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:")
_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_list(target: str) -> bool:
    """Whether ``target`` names several addresses for us to rewrite (no scheme, a comma)."""
    return "," in target and not target.startswith(_SCHEMES)


def with_default_port(target: str) -> str:
    """``host`` -> ``host:50051``; gRPC alone would take port 443 for a bare host.

    A target with a port, a scheme (``unix:/path``, ``dns:///host:1``) or
    brackets with a port is left as it is; a bare IPv6 address is bracketed.
    In a comma-separated list, each address gets the default port on its own.
    """
    if is_list(target):
        return ",".join(_one_with_default_port(part.strip()) for part in target.split(","))
    return _one_with_default_port(target)


def channel_target(target: str) -> str:
    """``target`` as gRPC's resolver reads it: a list becomes ``ipv4:...`` or ``ipv6:...``.

    Anything but a list (one address, a ``dns:``/``unix:``/``ipv4:`` URI...) is
    returned as it is. Raises ``ValueError`` for a list gRPC could not read: an
    empty entry, a host name, an address without a port, IPv4 and IPv6 mixed.
    """
    if not is_list(target):
        return target
    addresses = [_ip_and_port(part.strip(), target) for part in target.split(",")]
    families = {ip.version for ip, _ in addresses}
    if families == {4}:
        return "ipv4:" + ",".join(f"{ip}:{port}" for ip, port in addresses)
    if families == {6}:
        return "ipv6:" + ",".join(f"[{ip}]:{port}" for ip, port in addresses)
    raise ValueError(
        f"target {target!r} mixes IPv4 and IPv6 addresses; gRPC balances over a list of one"
        " family only"
    )


def _one_with_default_port(target: str) -> str:
    if target.startswith(_SCHEMES):
        return target
    if target.startswith("["):
        return target if "]:" in target else f"{target}:{DEFAULT_PORT}"
    if target.count(":") == 0:
        return f"{target}:{DEFAULT_PORT}"
    if target.count(":") > 1 and _is_ipv6(target):
        return f"[{target}]:{DEFAULT_PORT}"
    return target


def _ip_and_port(address: str, target: str) -> tuple[_IP, int]:
    """One entry of a list, ``IP:PORT`` or ``[IPv6]:PORT``; a ``ValueError`` names what is wrong."""
    if not address:
        raise ValueError(f"target {target!r} has an empty entry in its list of addresses")
    if address.startswith("["):
        host, _, port = address[1:].partition("]:")
    else:
        host, _, port = address.rpartition(":")
    bare_ipv6 = ":" in host and not address.startswith("[")
    if not host or bare_ipv6 or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{address!r} in target {target!r} is not IP:PORT ([IPv6]:PORT for IPv6):"
            " each address of a list needs its port, from 1 to 65535"
        )
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{host!r} in target {target!r} is not an IP address: a list of targets takes IP"
            " addresses (e.g. 127.0.0.1:50051,127.0.0.1:50052); for every address of a host"
            " name, give dns:///NAME:PORT"
        ) from None
    return ip, int(port)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True

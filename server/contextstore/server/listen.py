"""Where the server listens: the --listen grammar, and a probe that finds a taken address first.

--listen takes HOST:PORT ([ADDR]:PORT for IPv6), HOST alone (port 50051, as
clients assume), unix:PATH or unix-abstract:NAME. grpcio takes more (and
takes some of it wrongly: it wraps port 99999 around to 34463), so the
configuration refuses anything else before grpcio sees it.

Why a probe: when a bind fails, grpcio's C core writes its own error line to
stderr before raising, so the operator would read two lines for one mistake.
GRPC_VERBOSITY is read once, when gRPC starts, so silencing the C core for one
call would silence it for the whole life of the server. Binding a plain socket
to the same address first, as gRPC will (SO_REUSEADDR, no SO_REUSEPORT), finds
a taken or unusable address with nothing printed; only a race with another
process between the probe and the real bind still reaches grpcio's message.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

DEFAULT_PORT = 50051
MAX_PORT = 65535
UNIX, UNIX_ABSTRACT = "unix:", "unix-abstract:"
EXAMPLES = "e.g. 127.0.0.1:50051, 0.0.0.0:50051, [::1]:50051, unix:/run/contextstore.sock"


_IPV6_CHARS = set("0123456789abcdefABCDEF:.")


class AddressInUse(OSError):
    """Another socket holds the address; the message is the one line the operator reads."""


def normalize(text: str) -> str:
    """The --listen value as gRPC will get it (HOST gains :50051); ValueError if it is none."""
    if text.startswith(UNIX_ABSTRACT) or text.startswith(UNIX):
        path = text.partition(":")[2].removeprefix("//")
        if not path or path.endswith("/"):  # nothing, or a directory: no socket to make
            raise ValueError(f"no socket path in {text!r} ({EXAMPLES})")
        return text
    host, port = _split(text)
    bracketed = f"[{host}]" if ":" in host else host
    return f"{bracketed}:{port}"


def _split(text: str) -> tuple[str, int]:
    """HOST and PORT of a TCP address, IPv6 unbracketed; a missing port is 50051."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"not an address: {text!r} ({EXAMPLES})")
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        if set(text) <= _IPV6_CHARS:
            raise ValueError(f"an IPv6 address goes in brackets: [ADDR]:PORT, got {text!r}")
        raise ValueError(f"not an address: {text!r} ({EXAMPLES})")
    else:
        host, colon, after = text.partition(":")
        port_text = after if colon else None
    if not host or any(c.isspace() or c in "/@?#" for c in host):
        raise ValueError(f"not a host in {text!r} ({EXAMPLES})")
    if port_text is None:
        return host, DEFAULT_PORT
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > MAX_PORT:
        raise ValueError(f"port {port_text!r} is not 0 to {MAX_PORT} (0 picks a free one)")
    return host, int(port_text)


def is_unix(listen: str) -> bool:
    return listen.startswith(UNIX) or listen.startswith(UNIX_ABSTRACT)


def probe(listen: str) -> None:
    """Raise AddressInUse, or OSError with one clear line, if gRPC could not bind ``listen``."""
    if listen.startswith(UNIX_ABSTRACT):
        _probe_abstract(listen)
    elif listen.startswith(UNIX):
        _probe_unix_path(listen)
    else:
        _probe_tcp(listen)


def _failure(listen: str, error: OSError) -> OSError:
    if error.errno == errno.EADDRINUSE:
        return AddressInUse(f"address already in use: {listen}")
    reason = error.strerror or str(error)
    return OSError(f"could not listen on {listen}: {reason[:1].lower()}{reason[1:]}")


def _probe_tcp(listen: str) -> None:
    host, port = _split(listen)
    if port == 0:
        return  # any free port: nothing can hold it
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise OSError(f"could not listen on {listen}: cannot resolve {host!r}") from error
    failures: list[OSError] = []
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as error:
                failures.append(error)
            else:
                return  # gRPC serves on every address it can bind, so one is enough
    if failures:
        in_use = [f for f in failures if f.errno == errno.EADDRINUSE]
        raise _failure(listen, (in_use or failures)[0])


def _probe_abstract(listen: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.bind("\0" + listen[len(UNIX_ABSTRACT) :])
        except OSError as error:
            raise _failure(listen, error) from error


def _probe_unix_path(listen: str) -> None:
    path = listen[len(UNIX) :]
    if path.startswith("//"):  # unix:///run/x.sock is unix:/run/x.sock
        path = path[2:]
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            raise OSError(f"could not listen on {listen}: no such directory: {directory}") from None
        return
    if not stat.S_ISSOCK(mode):
        raise AddressInUse(f"address already in use: {listen} (a file that is not a socket)")
    # gRPC removes a socket file that is there and binds anew, taking the path
    # from a live server; only a stale one (nobody accepts on it) may go.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError:
            return
    raise AddressInUse(f"address already in use: {listen}")

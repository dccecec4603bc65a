"""Targets: the default port (50051, not gRPC's 443) and lists rewritten for gRPC."""

from __future__ import annotations

import pytest

from contextstore.client.targets import channel_target, with_default_port


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
        # In a list, each address on its own.
        ("10.0.0.1,10.0.0.2:7", "10.0.0.1:50051,10.0.0.2:7"),
        ("10.0.0.1, 10.0.0.2", "10.0.0.1:50051,10.0.0.2:50051"),
        ("::1,[::2]:7,[::3]", "[::1]:50051,[::2]:7,[::3]:50051"),
        ("ipv4:10.0.0.1:7,10.0.0.2:7", "ipv4:10.0.0.1:7,10.0.0.2:7"),
    ],
)
def test_which_targets_get_the_default_port(target: str, meant: str) -> None:
    assert with_default_port(target) == meant


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        ("127.0.0.1:1,127.0.0.2:2", "ipv4:127.0.0.1:1,127.0.0.2:2"),
        (" 127.0.0.1:1 , 127.0.0.1:2 ", "ipv4:127.0.0.1:1,127.0.0.1:2"),
        ("[::1]:1,[0:0::1]:2", "ipv6:[::1]:1,[::1]:2"),
        # Not a list of ours: gRPC reads these as they are.
        ("127.0.0.1:1", "127.0.0.1:1"),
        ("localhost:1", "localhost:1"),
        ("dns:///cache.internal:7", "dns:///cache.internal:7"),
        ("ipv4:10.0.0.1:7,10.0.0.2:7", "ipv4:10.0.0.1:7,10.0.0.2:7"),
    ],
)
def test_a_list_of_addresses_becomes_grpcs_ipv4_or_ipv6_form(target: str, uri: str) -> None:
    assert channel_target(target) == uri


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("localhost:1,localhost:2", "'localhost' in target 'localhost:1,localhost:2' is not an IP"),
        ("127.0.0.1:1,[::1]:2", "mixes IPv4 and IPv6"),
        ("127.0.0.1:1,", "empty entry"),
        ("127.0.0.1:1,127.0.0.2", "'127.0.0.2' in target '127.0.0.1:1,127.0.0.2' is not IP:PORT"),
        ("::1:5,::2:5", "'::1:5' in target '::1:5,::2:5' is not IP:PORT ([IPv6]:PORT"),
        ("127.0.0.1:0,127.0.0.1:1", "from 1 to 65535"),
        ("127.0.0.1:65536,127.0.0.1:1", "from 1 to 65535"),
        ("127.0.0.1:x,127.0.0.1:1", "is not IP:PORT"),
    ],
)
def test_a_list_grpc_could_not_read_is_refused_saying_why(target: str, said: str) -> None:
    with pytest.raises(ValueError) as refused:
        channel_target(target)
    assert said in str(refused.value)


def test_a_host_name_in_a_list_points_at_dns() -> None:
    with pytest.raises(ValueError, match="dns:///NAME:PORT"):
        channel_target("cache-a.internal:50051,cache-b.internal:50051")

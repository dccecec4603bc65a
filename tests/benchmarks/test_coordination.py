"""Figure W4's relay counts every byte both ways, and the figure measures what it says."""

from __future__ import annotations

import socket
import threading

from benchmarks import coordination


def test_the_relay_forwards_and_counts_both_directions() -> None:
    upstream = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = upstream.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    relay = coordination.CountingRelay(f"127.0.0.1:{upstream.getsockname()[1]}")
    try:
        host, port = relay.address.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as client:
            client.sendall(b"x" * 10_000)
            received = b""
            while len(received) < 10_000:
                received += client.recv(65536)
        assert received == b"x" * 10_000
        assert relay.bytes == 20_000
        relay.reset()
        assert relay.bytes == 0
    finally:
        relay.close()
        upstream.close()


def test_w4_reads_every_file_unchanged_and_saves_the_content() -> None:
    figure = coordination.unchanged_rereads(files=50)

    assert figure.key == "W4" and figure.invalid is None
    # Without known_sha256 each read carries its 4 KiB; with it, none of them.
    assert figure.denominator.value > 50 * coordination.FILE_BYTES
    assert figure.numerator.value < 50 * 512

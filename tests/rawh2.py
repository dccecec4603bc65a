"""gRPC calls made by hand over HTTP/2, for clients grpcio will not play.

A well-behaved gRPC library always sends whole messages and reads what it is
sent. These calls do neither on purpose: a request whose length prefix promises
more bytes than arrive (a stalled call), or a response the client never makes
room for (an unread response: the flow-control window stays closed). Each is a
real TCP connection to a real server, driven with the ``h2`` protocol library.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.settings

_SERVICE = "/contextstore.v1.ContextStoreService/"
_HEADERS = [("content-type", "application/grpc"), ("te", "trailers")]


@dataclass
class Outcome:
    """What arrived on a raw call: its response headers, data and trailers."""

    headers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)
    trailers: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    closed: bool = False

    @property
    def ended(self) -> bool:
        return bool(self.trailers) or self.reset or self.closed

    @property
    def status(self) -> int | None:
        """The grpc-status, from trailers or a trailers-only response."""
        text = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if text is None else int(text)

    @property
    def message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


class RawCall:
    """One gRPC call on its own HTTP/2 connection."""

    def __init__(self, address: str, *, window: int = 65_535) -> None:
        """``window``: the initial flow-control window offered (0: never read a byte)."""
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        if window != 65_535:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self._flush()
        self.stream = self.conn.get_next_available_stream_id()
        self.outcome = Outcome()
        self._acked = False

    def start(self, method: str, *, timeout: str | None = None) -> None:
        headers = [
            (":method", "POST"), (":scheme", "http"), (":path", _SERVICE + method),
            (":authority", "contextstore"), *_HEADERS,
        ]  # fmt: skip
        if timeout is not None:
            headers.append(("grpc-timeout", timeout))
        self.conn.send_headers(self.stream, headers)
        self._flush()

    def send_prefix(self, promised: int, body: bytes, *, end: bool = False) -> None:
        """A length prefix promising ``promised`` bytes, then ``body`` (maybe fewer)."""
        self.conn.send_data(self.stream, struct.pack(">BI", 0, promised) + body, end_stream=end)
        self._flush()

    def ping(self) -> None:
        """A round trip: once the ack is back, the server has read every earlier frame."""
        self._acked = False
        self.conn.ping(b"contexts")
        self._flush()
        while not self._acked and self.pump():
            pass

    def unary(self, method: str, request: bytes) -> None:
        """Send a whole request and half-close, as a well-behaved client would."""
        self.start(method)
        self.send_prefix(len(request), request, end=True)

    def pump(self) -> bool:
        """Read what the server sent once (blocking); False when the connection is gone."""
        try:
            chunk = self.sock.recv(1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            self.outcome.closed = True
            return False
        for event in self.conn.receive_data(chunk):
            self._on(event)
        self._flush()
        return True

    def wait_headers(self) -> None:
        """Read until the response headers (or the end) arrive."""
        while not (self.outcome.headers or self.outcome.ended) and self.pump():
            pass

    def wait_end(self) -> Outcome:
        """Read until the call ends: trailers, a reset, or a closed connection."""
        while not self.outcome.ended and self.pump():
            pass
        return self.outcome

    def close(self) -> None:
        self.sock.close()

    def _on(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            self.outcome.headers = dict(event.headers)  # type: ignore[arg-type]
        elif isinstance(event, h2.events.DataReceived):
            self.outcome.data += event.data or b""
        elif isinstance(event, h2.events.TrailersReceived):
            self.outcome.trailers = dict(event.headers)  # type: ignore[arg-type]
        elif isinstance(event, h2.events.PingAckReceived):
            self._acked = True
        elif isinstance(event, h2.events.StreamReset):
            self.outcome.reset = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.outcome.closed = True

    def _flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

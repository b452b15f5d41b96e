"""Test helpers: a real TCP server running serve_http, and a raw-bytes HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

import trio

from channels.http import Handler, HTTPLimits, serve_http


@asynccontextmanager
async def http_server(handler: Handler, limits: HTTPLimits | None = None) -> AsyncIterator[int]:
    """Run serve_http for every connection on 127.0.0.1:<port 0>; yield the port."""
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]

        async def serve(stream: trio.SocketStream) -> None:
            await serve_http(stream, handler, limits=limits)

        await nursery.start(partial(trio.serve_listeners, serve, listeners, handler_nursery=nursery))
        yield port
        nursery.cancel_scope.cancel()


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass
class RawClient:
    """Sends raw bytes and parses responses (content-length framing only)."""

    stream: trio.SocketStream
    buffer: bytearray = field(default_factory=bytearray)
    eof: bool = False

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> bool:
        try:
            data = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    async def read_response(self, *, head: bool = False) -> RawResponse:
        while b"\r\n\r\n" not in self.buffer:
            if not await self._fill():
                raise EOFError(f"connection closed; got {bytes(self.buffer)!r}")
        end = self.buffer.index(b"\r\n\r\n")
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        status = int(lines[0].split(" ")[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        length = 0
        for name, value in headers:
            if name == "content-length":
                length = int(value)
        if head or status in (204, 304) or 100 <= status < 200:
            length = 0
        while len(self.buffer) < length:
            if not await self._fill():
                raise EOFError("connection closed in the middle of a body")
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return RawResponse(status, headers, body)

    async def assert_closed(self) -> None:
        """Wait until the server closes the connection (no further bytes)."""
        while await self._fill():
            pass
        await self.stream.aclose()
        assert not self.buffer, f"unexpected bytes before EOF: {bytes(self.buffer)!r}"

    async def aclose(self) -> None:
        await self.stream.aclose()


def get(path: str, *extra: str, method: str = "GET", host: str = "localhost") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *extra, "", ""]
    return "\r\n".join(lines).encode("latin-1")

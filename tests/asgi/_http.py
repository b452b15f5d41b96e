"""A small HTTP/1.1 client on h11 for the ASGI tests: streamed request and response bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import h11
import trio


@dataclass
class HTTPResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


class HTTPConnection:
    """One keep-alive connection; ``request`` sends, ``response``/``stream`` read."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> HTTPConnection:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def _send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            await self.stream.send_all(data)

    async def start_request(self, method: str, path: str, headers: Sequence[tuple[str, str]] = (),
                            *, chunked: bool = False, length: int | None = None) -> None:
        hs = [("host", "127.0.0.1"), *headers]
        if chunked:
            hs.append(("transfer-encoding", "chunked"))
        elif length is not None:
            hs.append(("content-length", str(length)))
        await self._send(h11.Request(method=method, target=path, headers=hs))

    async def send_body(self, data: bytes) -> None:
        await self._send(h11.Data(data=data))

    async def end_request(self) -> None:
        await self._send(h11.EndOfMessage())

    async def request(self, method: str, path: str, headers: Sequence[tuple[str, str]] = (),
                      body: bytes = b"") -> HTTPResponse:
        await self.start_request(method, path, headers, length=len(body) if body or method == "POST" else None)
        if body:
            await self.send_body(body)
        await self.end_request()
        return await self.response()

    async def _next(self) -> h11.Event:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
                continue
            return event

    async def head(self) -> HTTPResponse:
        event = await self._next()
        assert isinstance(event, h11.Response), event
        return HTTPResponse(event.status_code, [(k.decode(), v.decode()) for k, v in event.headers])

    async def body_chunks(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._next()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def response(self) -> HTTPResponse:
        response = await self.head()
        async for chunk in self.body_chunks():
            response.chunks.append(chunk)
        response.body = b"".join(response.chunks)
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        return response

    async def assert_closed(self) -> None:
        """The server closed the connection (possibly mid-response)."""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                return

    async def aclose(self) -> None:
        await self.stream.aclose()


async def request(port: int, method: str, path: str, headers: Sequence[tuple[str, str]] = (),
                  body: bytes = b"") -> HTTPResponse:
    conn = await HTTPConnection.open(port)
    try:
        return await conn.request(method, path, headers, body)
    finally:
        await conn.aclose()

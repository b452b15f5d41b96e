"""A tiny HTTP/1.1 client (trio + h11, keep-alive) and a long-poll protocol client for the tests."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h11
import orjson
import trio


@dataclass(frozen=True)
class HTTPResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def json(self) -> Any:
        return orjson.loads(self.body)


class HTTPConnection:
    """One keep-alive connection; requests run one after the other on it."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)
        self.requests = 0
        self.local_port: int = stream.socket.getsockname()[1]

    @classmethod
    async def open(cls, port: int) -> HTTPConnection:
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def request(self, method: str, target: str, headers: Sequence[tuple[str, str]] = (),
                      body: bytes = b"") -> HTTPResponse:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        all_headers = [("host", "localhost"), *headers]
        if method in ("POST", "PUT") or body:
            all_headers.append(("content-length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)
        self.requests += 1
        status = 0
        resp_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                resp_headers = [(k.decode().lower(), v.decode()) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return HTTPResponse(status, resp_headers, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("the server closed the connection")


def v2(join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any) -> bytes:
    """A V2 JSON text frame."""
    return orjson.dumps([join_ref, ref, topic, event, payload])


class LongPollClient:
    """Speaks the long-poll protocol like phoenix.js: one connection for polls, one for posts."""

    def __init__(self, port: int, path: str = "/socket/longpoll", *, params: dict[str, str] | None = None,
                 vsn: str = "2.0.0", headers: Sequence[tuple[str, str]] = ()) -> None:
        self.port = port
        query = dict(params or {})
        query["vsn"] = vsn
        self.target = path + "?" + urllib.parse.urlencode(query)
        self.headers = list(headers)
        self.token: str | None = None
        self._get: HTTPConnection | None = None
        self._post: HTTPConnection | None = None

    async def _conn(self, which: str) -> HTTPConnection:
        conn = self._get if which == "get" else self._post
        if conn is None:
            conn = await HTTPConnection.open(self.port)
            if which == "get":
                self._get = conn
            else:
                self._post = conn
        return conn

    def _token_headers(self) -> list[tuple[str, str]]:
        hs = list(self.headers)
        if self.token is not None:
            hs.append(("x-phoenix-longpoll-token", self.token))
        return hs

    async def get(self) -> HTTPResponse:
        return await (await self._conn("get")).request(
            "GET", self.target, [("accept", "application/json"), *self._token_headers()])

    async def open(self) -> dict[str, Any]:
        """The first GET: a new session."""
        body: dict[str, Any] = (await self.get()).json()
        assert body["status"] == 410, body
        self.token = body["token"]
        return body

    async def poll(self) -> dict[str, Any]:
        body: dict[str, Any] = (await self.get()).json()
        return body

    async def poll_messages(self) -> list[Any]:
        """One poll that must bring messages: the decoded frames."""
        body = await self.poll()
        assert body["status"] == 200, body
        return [orjson.loads(m) for m in body["messages"]]

    async def post_raw(self, body: bytes, content_type: str | None = "application/x-ndjson",
                       headers: Sequence[tuple[str, str]] = ()) -> HTTPResponse:
        hs = self._token_headers()
        if content_type is not None:
            hs.append(("content-type", content_type))
        hs.extend(headers)
        return await (await self._conn("post")).request("POST", self.target, hs, body)

    async def post(self, *frames: bytes) -> dict[str, Any]:
        body: dict[str, Any] = (await self.post_raw(b"\n".join(frames))).json()
        return body

    async def aclose(self) -> None:
        for conn in (self._get, self._post):
            if conn is not None:
                await conn.aclose()

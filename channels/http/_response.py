"""Handler results: a complete :class:`Response`, a :class:`StreamingResponse`, or :class:`Upgrade`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Response", "StreamingResponse", "Upgrade"]


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response; the driver adds ``content-length`` and ``date``.

    Any ``content-length``/``transfer-encoding`` header given here is replaced. A
    ``connection: close`` header is honoured (the connection is closed after it).
    The body is not sent for HEAD requests, 204 and 304.
    """

    status: int
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""

    @classmethod
    def text(cls, text: str, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """A ``text/plain; charset=utf-8`` response.

        >>> Response.text("ok").headers
        (('content-type', 'text/plain; charset=utf-8'),)
        """
        return cls(status, (("content-type", "text/plain; charset=utf-8"), *headers), text.encode())

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Response:
        """An ``application/json`` response of ``value`` (compact JSON).

        >>> Response.json({"status": "ok"}).body
        b'{"status":"ok"}'
        """
        return cls(status, (("content-type", "application/json"), *headers), orjson.dumps(value))


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Handler result meaning "I took over the stream with :meth:`BodyReader.take_over`"."""


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """A response written as it is produced: the driver calls ``await write(writer)``.

    ``write`` calls ``await writer.start(status, headers)`` once, then
    ``await writer.write(chunk)`` any number of times; the driver ends the message when
    ``write`` returns. Without a ``content-length`` header the body is sent chunked
    (HTTP/1.1) or delimited by closing the connection (HTTP/1.0). If ``write`` raises
    or returns before ``start``, the client gets a 500; if it raises after ``start``,
    the connection is closed (the response is incomplete).
    """

    #: Called with the connection's ``ResponseWriter`` (typed ``Any`` here: ``_server``
    #: imports this module).
    write: Callable[[Any], Awaitable[None]]

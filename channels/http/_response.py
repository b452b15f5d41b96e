"""Handler results: a complete :class:`Response`, or :class:`Upgrade` after a take-over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Response", "Upgrade"]


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

"""Handler results: a complete :class:`Response`, or :class:`Upgrade` after a take-over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Handler result meaning "I took over the stream with :meth:`BodyReader.take_over`"."""

"""Pure helpers for the long-poll transport: response bodies and POST body parsing (§4).

A long-poll GET answers ``{"status":S,"token":T,"messages":[...]}`` where every message
is one serializer-encoded *text* frame carried as a JSON string (JSON inside JSON). A
POST with ``content-type: application/x-ndjson`` carries up to 100 frames, one per line:
a line starting with ``[`` is a V2 text frame, any other line is a base64 binary frame.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Final

import orjson

from ._errors import EncodeError, LongPollBodyError
from ._message import Frame, Opcode

__all__ = [
    "MAX_BASE64_LINE_BYTES",
    "MAX_POLL_BATCH_SIZE",
    "NDJSON_CONTENT_TYPE",
    "encode_longpoll_response",
    "iter_longpoll_post",
    "parse_longpoll_post",
]

#: Only the first this-many ndjson lines of a POST are processed (``@max_poll_batch_size``).
MAX_POLL_BATCH_SIZE: Final = 100
#: A base64 ndjson line longer than this is a bad request (``@max_base64_size``).
MAX_BASE64_LINE_BYTES: Final = 10_000_000
#: The exact content type that makes a POST body a batch of lines.
NDJSON_CONTENT_TYPE: Final = "application/x-ndjson"

_LINE_SPLIT: Final = re.compile(rb"\r?\n")
_BASE64_CHARS: Final = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def encode_longpoll_response(
    status: int,
    token: str | None = None,
    messages: Iterable[Frame | bytes] | None = None,
) -> bytes:
    """Build a long-poll JSON response body.

    Args:
        status: The logical status (200, 204, 403, 408, 410...); the HTTP status is 200.
        token: The session token, or ``None`` to leave the key out.
        messages: Encoded text frames (``Frame`` or their UTF-8 bytes), or ``None`` to
            leave the key out. Each becomes a JSON *string* in ``"messages"``.

    Returns:
        The compact JSON body, for example
        ``{"status":200,"token":"...","messages":["[\\"1\\",...]"]}``.

    Raises:
        EncodeError: A message is a binary frame or is not valid UTF-8: long-poll
            carries only text frames (as in Phoenix, binary is WebSocket-only).
    """
    body: dict[str, object] = {"status": status}
    if token is not None:
        body["token"] = token
    if messages is not None:
        texts: list[str] = []
        for message in messages:
            if isinstance(message, Frame):
                if message.opcode is not Opcode.TEXT:
                    raise EncodeError("binary frames cannot be sent over long-poll")
                data = message.data
            else:
                data = message
            try:
                texts.append(data.decode())
            except UnicodeDecodeError:
                raise EncodeError("long-poll messages must be UTF-8 text frames") from None
        body["messages"] = texts
    return orjson.dumps(body)


def _decode_base64_line(line: bytes, number: int) -> bytes:
    if len(line) > MAX_BASE64_LINE_BYTES:
        raise LongPollBodyError(
            f"ndjson line {number} is {len(line)} bytes of base64, more than the "
            f"{MAX_BASE64_LINE_BYTES}-byte limit"
        )
    # Elixir's Base.decode64!/1: standard alphabet, padding required.
    if len(line) % 4 or _BASE64_CHARS.fullmatch(line) is None:
        raise LongPollBodyError(
            f"ndjson line {number} is neither a JSON array (starting with '[') "
            f"nor valid padded base64"
        )
    try:
        return binascii.a2b_base64(line, strict_mode=True)
    except binascii.Error as exc:
        raise LongPollBodyError(f"ndjson line {number} is not valid base64: {exc}") from None


def iter_longpoll_post(
    body: bytes, content_type: str | None
) -> Iterator[tuple[bytes, bool]]:
    """Split a long-poll POST body into frames, lazily, as Phoenix does (§4.5).

    With ``content_type == "application/x-ndjson"`` (exactly), the body is split on
    ``\\n`` or ``\\r\\n`` and only the first 100 lines are considered: a line starting
    with ``[`` is a text frame, any other line is base64 for a binary frame. Empty lines
    are skipped (Phoenix would crash the session on them; a trailing newline is common
    in ndjson). Any other content type makes the whole body one text frame.

    Errors are raised when the bad line is reached, so the frames before it can be
    dispatched first, like Phoenix's lazy ``Stream``.

    Args:
        body: The raw request body.
        content_type: The ``content-type`` header value, or ``None``.

    Yields:
        ``(data, binary)`` pairs ready for :meth:`Serializer.decode`.

    Raises:
        LongPollBodyError: A line is neither ``[``-prefixed nor valid padded base64, or a
            base64 line is longer than 10,000,000 bytes.
    """
    if content_type != NDJSON_CONTENT_TYPE:
        yield body, False
        return
    for number, line in enumerate(_LINE_SPLIT.split(body, MAX_POLL_BATCH_SIZE), start=1):
        if number > MAX_POLL_BATCH_SIZE:
            return
        if not line:
            continue
        if line[0] == 0x5B:  # "["
            yield line, False
        else:
            yield _decode_base64_line(line, number), True


def parse_longpoll_post(body: bytes, content_type: str | None) -> list[tuple[bytes, bool]]:
    """Eager form of :func:`iter_longpoll_post`: all frames, or the first error."""
    return list(iter_longpoll_post(body, content_type))

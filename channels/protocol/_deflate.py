"""permessage-deflate (RFC 7692) for the server: negotiation, compression, decompression.

The server always answers with ``server_no_context_takeover``: every message it sends is
compressed on its own, so a broadcast frame compressed once is valid on every connection
that negotiated the same window size (encode-once fan-out keeps working; the fan-out
cache keys frames by :attr:`Deflate.encoding`). That costs some ratio on streams of similar
messages and saves a compressor (~256 KiB with the default window) per connection.

Client messages are decompressed with a 15-bit window (it reads anything a smaller one
wrote). If the client offered ``client_no_context_takeover``, the answer accepts it and
the decompressor is dropped between messages (no memory held by idle connections).

A client that asks for ``server_max_window_bits=8`` is answered with it, and the server then
sends that connection's messages uncompressed (RFC 7692 §6.1 allows any message to be
sent uncompressed): zlib cannot compress with a 256-byte window (it uses 512 bytes).

Example:
    >>> deflate = negotiate_deflate(["permessage-deflate; client_max_window_bits"])
    >>> deflate.response_header
    'permessage-deflate; server_no_context_takeover'
    >>> payload = deflate.compress(b"hello hello hello")
    >>> deflate.decompressor(max_size=100).feed(payload, final=True)
    b'hello hello hello'
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["Deflate", "Decompressor", "MessageTooBig", "compress_message", "negotiate_deflate"]

#: What a compressed message ends with before its tail is removed (RFC 7692 §7.2.1).
_TAIL: Final = b"\x00\x00\xff\xff"

#: zlib's fastest level: ~5x less CPU than its default (6) on JSON here, for a ratio a few
#: points lower; a broadcast is compressed once for all subscribers anyway.
_LEVEL: Final = 1

_COMPRESSORS: dict[int, zlib._Compress] = {}


def compress_message(payload: bytes, window_bits: int) -> bytes:
    """Compress one message on its own (no context kept), tail removed (RFC 7692 §7.2.1).

    One compressor per window size is shared by every connection: a full flush after each
    message resets it, so nothing of one message is referred to by the next.
    """
    comp = _COMPRESSORS.get(window_bits)
    if comp is None:
        comp = _COMPRESSORS[window_bits] = zlib.compressobj(_LEVEL, zlib.DEFLATED, -window_bits)
    data = comp.compress(payload) + comp.flush(zlib.Z_FULL_FLUSH)
    return data[:-4] if data.endswith(_TAIL) else data


class MessageTooBig(Exception):
    """A compressed message inflates past the allowed size."""


class Decompressor:
    """Inflates the frames of one compressed message, bounded in output size."""

    __slots__ = ("_inflate", "_size", "max_size")

    def __init__(self, inflate: zlib._Decompress, max_size: int) -> None:
        self._inflate = inflate
        self.max_size = max_size
        self._size = 0

    def feed(self, data: bytes, *, final: bool) -> bytes:
        """Inflate the next fragment's payload; ``final`` for the message's last frame.

        Raises:
            MessageTooBig: the message inflates past ``max_size`` bytes.
            zlib.error: the data is not a valid deflate stream.
        """
        if final:
            data += _TAIL
        room = self.max_size - self._size
        out = self._inflate.decompress(data, room + 1)
        self._size += len(out)
        if self._size > self.max_size or self._inflate.unconsumed_tail:
            raise MessageTooBig(f"message inflates past {self.max_size} bytes")
        return out


@dataclass(slots=True)
class Deflate:
    """The parameters of permessage-deflate as negotiated on one connection."""

    #: The window the server compresses with (8: send uncompressed, see the module doc).
    server_max_window_bits: int = 15
    #: The client agreed not to keep context between its messages.
    client_no_context_takeover: bool = False
    #: The ``Sec-WebSocket-Extensions`` value of the 101 response.
    response_header: str = "permessage-deflate; server_no_context_takeover"
    _inflate: zlib._Decompress | None = None

    @property
    def encoding(self) -> str:
        """The fan-out key: connections with the same one can share compressed frames."""
        return "ws" if self.server_max_window_bits == 8 else f"ws+deflate/{self.server_max_window_bits}"

    def compress(self, payload: bytes) -> bytes:
        """Compress one outgoing message (the caller sets RSV1 on its first frame)."""
        return compress_message(payload, self.server_max_window_bits)

    def decompressor(self, *, max_size: int) -> Decompressor:
        """A decompressor for the next client message (it shares the context if any)."""
        if self._inflate is None or self.client_no_context_takeover:
            self._inflate = zlib.decompressobj(-15)
        inflate = self._inflate
        if self.client_no_context_takeover:
            self._inflate = None
        return Decompressor(inflate, max_size)


def _parse_offers(values: Iterable[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for value in values:
        for item in value.split(","):
            parts = [p.strip() for p in item.split(";")]
            if not parts[0]:
                continue
            params: list[tuple[str, str | None]] = []
            for part in parts[1:]:
                if not part:
                    continue
                name, eq, val = part.partition("=")
                v: str | None = val.strip().strip('"') if eq else None
                params.append((name.strip().lower(), v))
            offers.append((parts[0].lower(), params))
    return offers


def _window_bits(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 2 or (len(value) == 2 and value[0] == "0"):
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def _accept_offer(params: list[tuple[str, str | None]]) -> Deflate | None:
    seen: set[str] = set()
    deflate = Deflate()
    answer = ["permessage-deflate", "server_no_context_takeover"]
    for name, value in params:
        if name in seen:
            return None  # RFC 7692 §7: a parameter twice makes the offer invalid
        seen.add(name)
        if name == "server_no_context_takeover":
            if value is not None:
                return None
        elif name == "client_no_context_takeover":
            if value is not None:
                return None
            deflate.client_no_context_takeover = True
            answer.append("client_no_context_takeover")
        elif name == "server_max_window_bits":
            bits = _window_bits(value)
            if bits is None:
                return None
            deflate.server_max_window_bits = bits
            answer.append(f"server_max_window_bits={bits}")
        elif name == "client_max_window_bits":
            if value is not None and _window_bits(value) is None:
                return None
            # A hint the server may ignore: we inflate with a 15-bit window whatever it uses.
        else:
            return None  # an unknown parameter: decline this offer
    deflate.response_header = "; ".join(answer)
    return deflate


def negotiate_deflate(header_values: Iterable[str]) -> Deflate | None:
    """Accept the first valid permessage-deflate offer in ``Sec-WebSocket-Extensions``.

    Returns None when the client offered none (or none the server can accept): the
    connection then runs uncompressed.
    """
    for name, params in _parse_offers(header_values):
        if name == "permessage-deflate":
            deflate = _accept_offer(params)
            if deflate is not None:
                return deflate
    return None

"""Transport layer: connection processes after the HTTP upgrade (WebSocket, raw WebSocket
transports, long-poll) and the socket writer.

Below the channel layer: a transport is handed a session (``SessionHandler``) by the
endpoint, and never imports the channel layer. (The WebSocket loop in ``_websocket`` is due
to be replaced by the one-loop redesign of issue 13.)
"""

from __future__ import annotations

from ._longpoll import LongPollOptions as LongPollOptions
from ._messages import (
    Accept as Accept,
    ErrorHandler as ErrorHandler,
    Refuse as Refuse,
    SessionHandler as SessionHandler,
    TransportIO as TransportIO,
)
from ._transport import Ping as Ping, Transport as Transport
from ._websocket import WebSocketOptions as WebSocketOptions
from ._writer import WriterStatistics as WriterStatistics

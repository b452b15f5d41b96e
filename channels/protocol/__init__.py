"""The sans-IO Phoenix channel protocol: messages, serializers, frames and codecs.

Nothing in this package does I/O or imports trio. It turns client bytes into
:class:`Message` values and server messages into :class:`Frame` values (V1 and V2
wire formats, §1 of the protocol reference), frames into WebSocket bytes for
encode-once fan-out, runs one WebSocket connection (:class:`ServerConnection`: the
handshake, frames, the close handshake, permessage-deflate), long-poll bodies into frames and back, and Erlang terms
(for Phoenix.Token) into bytes and back.

Example:
    >>> from channels.protocol import ReplyMessage, negotiate_serializer
    >>> serializer = negotiate_serializer("2.0.0")
    >>> msg = serializer.decode('["1","1","ping","phx_join",{}]', binary=False)
    >>> serializer.encode_reply(ReplyMessage(msg.topic, "ok", {}, msg.ref, msg.join_ref)).data
    b'["1","1","ping","phx_reply",{"response":{},"status":"ok"}]'
"""

from __future__ import annotations

from ._deflate import Deflate as Deflate
from ._errors import (
    EncodeError as EncodeError,
    InvalidMessageError as InvalidMessageError,
    LongPollBodyError as LongPollBodyError,
    ProtocolError as ProtocolError,
)
from ._etf import (
    Atom as Atom,
    ETFError as ETFError,
    binary_to_term as binary_to_term,
    term_to_binary as term_to_binary,
)
from ._longpoll import (
    MAX_BASE64_LINE_BYTES as MAX_BASE64_LINE_BYTES,
    MAX_POLL_BATCH_SIZE as MAX_POLL_BATCH_SIZE,
    NDJSON_CONTENT_TYPE as NDJSON_CONTENT_TYPE,
    encode_longpoll_response as encode_longpoll_response,
    iter_longpoll_post as iter_longpoll_post,
    parse_longpoll_post as parse_longpoll_post,
)
from ._message import (
    Broadcast as Broadcast,
    Frame as Frame,
    JSONValue as JSONValue,
    Message as Message,
    Opcode as Opcode,
    Payload as Payload,
    Ref as Ref,
    ReplyMessage as ReplyMessage,
)
from ._serializer import (
    MAX_NESTING as MAX_NESTING,
    V1_JSON_SERIALIZER as V1_JSON_SERIALIZER,
    V2_JSON_SERIALIZER as V2_JSON_SERIALIZER,
    Serializer as Serializer,
    V1JSONSerializer as V1JSONSerializer,
    V2JSONSerializer as V2JSONSerializer,
    negotiate_serializer as negotiate_serializer,
)
from ._websocket import (
    CloseCode as CloseCode,
    encode_ws_close as encode_ws_close,
    encode_ws_data as encode_ws_data,
    encode_ws_frame as encode_ws_frame,
    frame_to_ws_bytes as frame_to_ws_bytes,
    is_valid_close_code as is_valid_close_code,
)
from ._wsconnection import (
    Accepted as Accepted,
    ConnectionState as ConnectionState,
    HandshakeRequest as HandshakeRequest,
    Refused as Refused,
    ServerConnection as ServerConnection,
)
from ._wsparser import (
    CloseFrame as CloseFrame,
    Message as WSMessage,
    PingFrame as PingFrame,
    PongFrame as PongFrame,
    ProtocolViolation as ProtocolViolation,
)

__all__ = [
    "Accepted",
    "CloseCode",
    "CloseFrame",
    "ConnectionState",
    "Deflate",
    "HandshakeRequest",
    "PingFrame",
    "PongFrame",
    "ProtocolViolation",
    "Refused",
    "ServerConnection",
    "WSMessage",
    "MAX_BASE64_LINE_BYTES",
    "MAX_POLL_BATCH_SIZE",
    "NDJSON_CONTENT_TYPE",
    "V1_JSON_SERIALIZER",
    "V2_JSON_SERIALIZER",
    "Atom",
    "Broadcast",
    "ETFError",
    "EncodeError",
    "Frame",
    "InvalidMessageError",
    "JSONValue",
    "LongPollBodyError",
    "Message",
    "Opcode",
    "Payload",
    "ProtocolError",
    "Ref",
    "ReplyMessage",
    "Serializer",
    "V1JSONSerializer",
    "V2JSONSerializer",
    "binary_to_term",
    "encode_longpoll_response",
    "encode_ws_close",
    "encode_ws_data",
    "encode_ws_frame",
    "frame_to_ws_bytes",
    "is_valid_close_code",
    "iter_longpoll_post",
    "negotiate_serializer",
    "parse_longpoll_post",
    "term_to_binary",
]

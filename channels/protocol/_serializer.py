"""Phoenix channel serializers: V1 (JSON objects) and V2 (JSON arrays and binary frames).

A serializer turns client frames into :class:`Message` values (``decode``) and turns
server messages into :class:`Frame` values (``encode_push``, ``encode_reply`` and
``fastlane``). Everything here is pure: no I/O, no trio.

Design notes:

* JSON goes through a cattrs ``preconf.orjson`` converter per wire version, with
  hand-written hooks: the unstructure hooks build the wire list/object directly, and the
  structure hook validates client input strictly (cattrs itself would coerce
  ``123`` to ``"123"``). The encode hot paths call the registered hook function and
  ``orjson.dumps`` directly, skipping the converter's dispatch: ``fastlane`` runs once
  per broadcast per serializer, and ``encode_push``/``encode_reply`` once per message.
* Phoenix's wire formats are reproduced byte for byte where Phoenix is deterministic:
  compact JSON, envelope keys sorted (``{"response":..,"status":..}``), the binary
  layouts of ``v2_json_serializer.ex`` (§1.5 of the protocol reference).
* Refs are opaque: whatever JSON string/integer/null the client sent is echoed back.
"""

from __future__ import annotations

import abc
import re
from typing import Any, Final, final

import orjson
from cattrs.preconf.orjson import OrjsonConverter, make_converter

from ._errors import EncodeError, InvalidMessageError
from ._message import Broadcast, Frame, Message, Opcode, Ref, ReplyMessage

__all__ = [
    "MAX_NESTING",
    "V1_JSON_SERIALIZER",
    "V2_JSON_SERIALIZER",
    "Serializer",
    "V1JSONSerializer",
    "V2JSONSerializer",
    "negotiate_serializer",
]

_dumps = orjson.dumps
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_JSONEncodeError = orjson.JSONEncodeError
_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_BYTES_LIKE: Final = (bytes, bytearray, memoryview)

#: V2 binary message kinds (first byte of a binary frame).
_KIND_PUSH: Final = 0
_KIND_REPLY: Final = 1
_KIND_BROADCAST: Final = 2

_MAX_HEADER_FIELD: Final = 255

#: Deepest nesting of lists and objects in a client's JSON message, the message's own list or
#: object included. Deeper is refused as invalid (the socket closes with 1011), so that
#: everything accepted can be sent back: the encoder stops at 254 levels, and a reply wraps
#: the payload in two more (the message and ``{"status", "response"}``), a Redis envelope in
#: a few more. ``orjson.loads`` alone would accept 1024.
MAX_NESTING: Final = 200


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def _show(value: object, limit: int = 80) -> str:
    """Render ``value`` for an error message: its type and a truncated repr."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def _check_ref(value: object, field: str) -> Ref:
    # bool is a subclass of int: JSON true/false is not a ref.
    if value is None or type(value) is str or type(value) is int:
        return value
    raise InvalidMessageError(f"{field} must be a string, an integer or null, got {_show(value)}")


def _check_str(value: object, field: str) -> str:
    if type(value) is str:
        return value
    raise InvalidMessageError(f"{field} must be a string, got {_show(value)}")


def _json_error(exc: Exception, what: str) -> EncodeError:
    return EncodeError(f"unable to encode {what} as JSON: {exc}")


def _text_frame(value: Any, what: str) -> Frame:
    """``value`` as a JSON text frame; ``EncodeError`` naming ``what`` if it cannot be."""
    try:
        return Frame(_TEXT, _dumps(value))
    except _JSONEncodeError as exc:
        raise _json_error(exc, what) from None


def _v1_text_only(payload: object) -> None:
    if isinstance(payload, _BYTES_LIKE):
        raise EncodeError("V1 JSON serializer does not support binary payloads")


def _header_field(value: object, field: str) -> bytes:
    """Encode one binary header field (``to_string/1`` semantics), at most 255 bytes."""
    if value is None:
        return b""
    if type(value) is str:
        raw = value.encode()
    elif type(value) is int:
        raw = str(value).encode()
    else:
        raise EncodeError(f"unable to convert {field} to binary: {_show(value)}")
    if len(raw) > _MAX_HEADER_FIELD:
        raise EncodeError(
            f"unable to convert {field} to binary: {_show(value)} must be less than or "
            f"equal to {_MAX_HEADER_FIELD} bytes, but is {len(raw)} bytes"
        )
    return raw


def _as_bytes(data: str | bytes | bytearray | memoryview, *, binary: bool) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if binary:
        raise TypeError(f"a binary frame must be bytes-like, got {type(data).__name__}")
    return data.encode()


class _HeaderReader:
    """Slices length-prefixed header fields out of a binary frame, with clear errors."""

    __slots__ = ("_data", "_kind_name", "_pos")

    def __init__(self, data: bytes, kind_name: str, header_len: int) -> None:
        self._data = data
        self._kind_name = kind_name
        self._pos = header_len

    def take(self, length: int, field: str) -> str:
        end = self._pos + length
        if end > len(self._data):
            raise InvalidMessageError(
                f"binary {self._kind_name}: {field} length {length} at offset {self._pos} "
                f"runs past the end of the frame ({len(self._data)} bytes)"
            )
        raw = self._data[self._pos : end]
        self._pos = end
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            raise InvalidMessageError(
                f"binary {self._kind_name}: {field} is not valid UTF-8 ({exc.reason})"
            ) from None

    def rest(self) -> bytes:
        return self._data[self._pos :]


def _binary_header(data: bytes, kind_name: str, header_len: int) -> bytes:
    if len(data) < header_len:
        raise InvalidMessageError(
            f"binary {kind_name} frame is {len(data)} bytes, shorter than its "
            f"{header_len}-byte header"
        )
    return data[1:header_len]


def _decode_json(data: str | bytes | bytearray | memoryview, version: str) -> Any:
    try:
        value = _loads(data)
    except _JSONDecodeError as exc:
        raise InvalidMessageError(f"invalid JSON in {version} text frame: {exc}") from None
    # Cheap bound first (two C-level counts): fewer opening brackets than the limit cannot
    # nest deeper than it. Only then is the decoded value walked.
    text = data if isinstance(data, str | bytes) else bytes(data)
    opened = text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")
    if opened > MAX_NESTING and nesting_depth(value) > MAX_NESTING:
        raise InvalidMessageError(f"{version} message nested deeper than {MAX_NESTING} levels")
    return value


def nesting_depth(value: Any) -> int:
    """How deep lists and dicts nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
        stack.extend((child, depth) for child in children)
    return deepest


# --------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------


class Serializer(abc.ABC):
    """The interface shared by every wire-format serializer.

    Server side: :meth:`decode` parses client frames; :meth:`encode_push`,
    :meth:`encode_reply` and :meth:`fastlane` produce server frames. Client side (for
    Python clients, load generators and tests): :meth:`encode_client` and
    :meth:`decode_server` are the mirror images.

    Serializers are stateless, hashable singletons; use them as dictionary keys to
    cache one encoded frame per serializer (Phoenix's fastlane cache).
    """

    __slots__ = ()

    #: The ``vsn`` this serializer implements, for example ``"2.0.0"``.
    vsn: str
    #: The ``vsn`` requirement that selects it, for example ``"~> 2.0.0"``.
    requirement: str
    #: The cattrs converter holding this wire format's hooks.
    converter: OrjsonConverter

    @abc.abstractmethod
    def decode(self, data: str | bytes | bytearray | memoryview, *, binary: bool) -> Message:
        """Parse one client→server frame.

        Args:
            data: The frame body (``str`` or UTF-8 ``bytes`` for text frames).
            binary: Whether the frame arrived with the binary opcode.

        Returns:
            The client's message, with refs exactly as sent.

        Raises:
            InvalidMessageError: The frame is malformed; the message says how.
        """

    @abc.abstractmethod
    def encode_push(self, message: Message) -> Frame:
        """Encode a server→client push (``Phoenix.Channel.push/3``).

        Raises:
            EncodeError: The payload cannot be carried by this wire format.
        """

    @abc.abstractmethod
    def encode_reply(self, reply: ReplyMessage) -> Frame:
        """Encode a server→client ``phx_reply``.

        Raises:
            EncodeError: The payload cannot be carried by this wire format.
        """

    @abc.abstractmethod
    def fastlane(self, broadcast: Broadcast) -> Frame:
        """Encode a broadcast once, to be written to every subscriber of this format.

        Raises:
            EncodeError: The payload cannot be carried by this wire format.
        """

    @abc.abstractmethod
    def encode_client(self, message: Message) -> Frame:
        """Encode a client→server frame, as the Phoenix JS client would.

        Raises:
            EncodeError: The message cannot be carried by this wire format.
        """

    @abc.abstractmethod
    def decode_server(
        self, data: str | bytes | bytearray | memoryview, *, binary: bool
    ) -> Message | ReplyMessage:
        """Parse a server→client frame, as a client would.

        ``phx_reply`` frames come back as :class:`ReplyMessage`; pushes and broadcasts come back
        as :class:`Message` (a broadcast has ``join_ref`` and ``ref`` both ``None``).

        Raises:
            InvalidMessageError: The frame is malformed.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} vsn={self.vsn!r}>"


# --------------------------------------------------------------------------------------
# V1: JSON objects
# --------------------------------------------------------------------------------------


def _v1_unstructure_message(m: Message) -> dict[str, Any]:
    # Keys in sorted order, as Phoenix emits them; join_ref is never emitted.
    return {"event": m.event, "payload": m.payload, "ref": m.ref, "topic": m.topic}


def _v1_unstructure_reply(r: ReplyMessage) -> dict[str, Any]:
    return {
        "event": "phx_reply",
        "payload": {"response": r.payload, "status": r.status},
        "ref": r.ref,
        "topic": r.topic,
    }


def _v1_unstructure_broadcast(b: Broadcast) -> dict[str, Any]:
    return {"event": b.event, "payload": b.payload, "ref": None, "topic": b.topic}


def _v1_client_unstructure(m: Message) -> dict[str, Any]:
    obj = {"event": m.event, "payload": m.payload, "ref": m.ref, "topic": m.topic}
    if m.join_ref is not None:
        obj["join_ref"] = m.join_ref
    return obj


def _v1_structure_message(value: Any, _cl: object = None) -> Message:
    if type(value) is not dict:
        raise InvalidMessageError(f"V1 JSON Serializer expected a map, got {_show(value)}")
    # Same order as Phoenix.Socket.Message.from_map!/1.
    for key in ("topic", "event", "payload", "ref"):
        if key not in value:
            raise InvalidMessageError(f'missing key "{key}"')
    return Message(
        topic=_check_str(value["topic"], "topic"),
        event=_check_str(value["event"], "event"),
        payload=value["payload"],
        ref=_check_ref(value["ref"], "ref"),
        join_ref=_check_ref(value.get("join_ref"), "join_ref"),
    )


def _make_v1_converter() -> OrjsonConverter:
    conv = make_converter()
    conv.register_unstructure_hook(Message, _v1_unstructure_message)
    conv.register_unstructure_hook(ReplyMessage, _v1_unstructure_reply)
    conv.register_unstructure_hook(Broadcast, _v1_unstructure_broadcast)
    conv.register_structure_hook(Message, _v1_structure_message)
    return conv


@final
class V1JSONSerializer(Serializer):
    """Phoenix's ``V1.JSONSerializer``: every frame is a JSON object.

    Client frames are ``{"topic","event","payload","ref"}`` plus an optional
    ``"join_ref"``. Server frames have exactly the keys ``event``, ``payload``, ``ref``
    and ``topic`` (sorted), and never ``join_ref``. There is no binary payload support;
    like Phoenix, a frame with the binary opcode is parsed as JSON text.
    """

    __slots__ = ()
    vsn = "1.0.0"
    requirement = "~> 1.0.0"
    converter = _make_v1_converter()

    def decode(self, data: str | bytes | bytearray | memoryview, *, binary: bool) -> Message:
        return _v1_structure_message(_decode_json(data, "V1"))

    def encode_push(self, message: Message) -> Frame:
        _v1_text_only(message.payload)
        return _text_frame(_v1_unstructure_message(message), "payload")

    def encode_reply(self, reply: ReplyMessage) -> Frame:
        _v1_text_only(reply.payload)
        return _text_frame(_v1_unstructure_reply(reply), "reply payload")

    def fastlane(self, broadcast: Broadcast) -> Frame:
        _v1_text_only(broadcast.payload)
        return _text_frame(_v1_unstructure_broadcast(broadcast), "broadcast payload")

    def encode_client(self, message: Message) -> Frame:
        _v1_text_only(message.payload)
        return _text_frame(_v1_client_unstructure(message), "payload")

    def decode_server(
        self, data: str | bytes | bytearray | memoryview, *, binary: bool
    ) -> Message | ReplyMessage:
        value = _decode_json(data, "V1")
        if type(value) is not dict:
            raise InvalidMessageError(f"V1 server frame must be a map, got {_show(value)}")
        for key in ("event", "payload", "ref", "topic"):
            if key not in value:
                raise InvalidMessageError(f'missing key "{key}"')
        topic = _check_str(value["topic"], "topic")
        event = _check_str(value["event"], "event")
        ref = _check_ref(value["ref"], "ref")
        payload = value["payload"]
        if event == "phx_reply":
            return _reply_from_envelope(topic, payload, ref, None)
        return Message(topic, event, payload, ref, None)


def _reply_from_envelope(topic: str, payload: Any, ref: Ref, join_ref: Ref) -> ReplyMessage:
    if type(payload) is not dict or "status" not in payload or "response" not in payload:
        raise InvalidMessageError(
            f'phx_reply payload must be {{"status": ..., "response": ...}}, got {_show(payload)}'
        )
    return ReplyMessage(topic, _check_str(payload["status"], "status"), payload["response"], ref, join_ref)


# --------------------------------------------------------------------------------------
# V2: JSON arrays and binary frames
# --------------------------------------------------------------------------------------


def _v2_unstructure_message(m: Message) -> list[Any]:
    return [m.join_ref, m.ref, m.topic, m.event, m.payload]


def _v2_unstructure_reply(r: ReplyMessage) -> list[Any]:
    return [r.join_ref, r.ref, r.topic, "phx_reply", {"response": r.payload, "status": r.status}]


def _v2_unstructure_broadcast(b: Broadcast) -> list[Any]:
    return [None, None, b.topic, b.event, b.payload]


def _v2_fields(value: Any, what: str) -> tuple[Ref, Ref, str, str, Any]:
    if type(value) is not list:
        raise InvalidMessageError(
            f"V2 JSON serializer expected an array [join_ref, ref, topic, event, payload] "
            f"in a {what}, got {_show(value)}"
        )
    if len(value) < 5:
        raise InvalidMessageError(
            f"V2 {what} has {len(value)} elements, expected at least 5 "
            f"([join_ref, ref, topic, event, payload])"
        )
    # Elements after the fifth are ignored, as Phoenix's [a, b, c, d, e | _] match does.
    return (
        _check_ref(value[0], "join_ref"),
        _check_ref(value[1], "ref"),
        _check_str(value[2], "topic"),
        _check_str(value[3], "event"),
        value[4],
    )


def _v2_structure_message(value: Any, _cl: object = None) -> Message:
    if type(value) is list and len(value) == 5:
        # The usual, well-formed message, checked inline; anything else goes through
        # _v2_fields, which names what is wrong.
        join_ref, ref, topic, event, payload = value
        if (type(topic) is str and type(event) is str
                and (join_ref is None or type(join_ref) is str or type(join_ref) is int)
                and (ref is None or type(ref) is str or type(ref) is int)):
            return Message(topic, event, payload, ref, join_ref)
    join_ref, ref, topic, event, payload = _v2_fields(value, "text frame")
    return Message(topic, event, payload, ref, join_ref)


def _make_v2_converter() -> OrjsonConverter:
    conv = make_converter()
    conv.register_unstructure_hook(Message, _v2_unstructure_message)
    conv.register_unstructure_hook(ReplyMessage, _v2_unstructure_reply)
    conv.register_unstructure_hook(Broadcast, _v2_unstructure_broadcast)
    conv.register_structure_hook(Message, _v2_structure_message)
    return conv


_KIND_NAMES: Final = {_KIND_PUSH: "push", _KIND_REPLY: "reply", _KIND_BROADCAST: "broadcast"}


@final
class V2JSONSerializer(Serializer):
    """Phoenix's ``V2.JSONSerializer``: JSON arrays, plus binary frames for binary payloads.

    Text frames are ``[join_ref, ref, topic, event, payload]`` in both directions.
    Binary frames start with a kind byte: ``0`` push, ``1`` reply, ``2`` broadcast; only
    kind 0 (with a 5-byte header including the ref) is accepted from clients, while a
    server→client push has a 4-byte header and no ref. Push and broadcast payloads must
    be a ``dict`` (JSON object) or ``bytes``; reply payloads may be any JSON value or
    ``bytes``.
    """

    __slots__ = ()
    vsn = "2.0.0"
    requirement = "~> 2.0.0"
    converter = _make_v2_converter()

    # -- server side -------------------------------------------------------------------

    def decode(self, data: str | bytes | bytearray | memoryview, *, binary: bool) -> Message:
        if not binary:
            return _v2_structure_message(_decode_json(data, "V2"))
        raw = _as_bytes(data, binary=True)
        if not raw:
            raise InvalidMessageError("empty binary frame (expected kind byte 0, a push)")
        kind = raw[0]
        if kind != _KIND_PUSH:
            name = _KIND_NAMES.get(kind, "unknown")
            raise InvalidMessageError(
                f"unexpected binary message kind {kind} ({name}); clients may only send "
                f"kind 0 (push)"
            )
        join_ref_len, ref_len, topic_len, event_len = _binary_header(raw, "push", 5)
        reader = _HeaderReader(raw, "push", 5)
        join_ref = reader.take(join_ref_len, "join_ref")
        ref = reader.take(ref_len, "ref")
        topic = reader.take(topic_len, "topic")
        event = reader.take(event_len, "event")
        return Message(topic, event, reader.rest(), ref, join_ref)

    def encode_push(self, message: Message) -> Frame:
        payload = message.payload
        if isinstance(payload, dict):
            return _text_frame(_v2_unstructure_message(message), "payload")
        if isinstance(payload, _BYTES_LIKE):
            join_ref = _header_field(message.join_ref, "join_ref")
            topic = _header_field(message.topic, "topic")
            event = _header_field(message.event, "event")
            header = bytes((_KIND_PUSH, len(join_ref), len(topic), len(event)))
            return Frame(_BINARY, b"".join((header, join_ref, topic, event, payload)))
        raise EncodeError(f"expected payload to be a map, got: {_show(payload)}")

    def encode_reply(self, reply: ReplyMessage) -> Frame:
        payload = reply.payload
        if isinstance(payload, _BYTES_LIKE):
            join_ref = _header_field(reply.join_ref, "join_ref")
            ref = _header_field(reply.ref, "ref")
            topic = _header_field(reply.topic, "topic")
            status = _header_field(reply.status, "status")
            header = bytes((_KIND_REPLY, len(join_ref), len(ref), len(topic), len(status)))
            return Frame(_BINARY, b"".join((header, join_ref, ref, topic, status, payload)))
        return _text_frame(_v2_unstructure_reply(reply), "reply payload")

    def fastlane(self, broadcast: Broadcast) -> Frame:
        payload = broadcast.payload
        if isinstance(payload, dict):
            return _text_frame([None, None, broadcast.topic, broadcast.event, payload], "broadcast payload")
        if isinstance(payload, _BYTES_LIKE):
            topic = _header_field(broadcast.topic, "topic")
            event = _header_field(broadcast.event, "event")
            header = bytes((_KIND_BROADCAST, len(topic), len(event)))
            return Frame(_BINARY, b"".join((header, topic, event, payload)))
        raise EncodeError(f"expected broadcasted payload to be a map, got: {_show(payload)}")

    # -- client side -------------------------------------------------------------------

    def encode_client(self, message: Message) -> Frame:
        payload = message.payload
        if isinstance(payload, _BYTES_LIKE):
            join_ref = _header_field(message.join_ref, "join_ref")
            ref = _header_field(message.ref, "ref")
            topic = _header_field(message.topic, "topic")
            event = _header_field(message.event, "event")
            header = bytes((_KIND_PUSH, len(join_ref), len(ref), len(topic), len(event)))
            return Frame(_BINARY, b"".join((header, join_ref, ref, topic, event, payload)))
        return _text_frame(_v2_unstructure_message(message), "payload")

    def decode_server(
        self, data: str | bytes | bytearray | memoryview, *, binary: bool
    ) -> Message | ReplyMessage:
        if not binary:
            join_ref, ref, topic, event, payload = _v2_fields(
                _decode_json(data, "V2"), "server frame"
            )
            if event == "phx_reply":
                return _reply_from_envelope(topic, payload, ref, join_ref)
            return Message(topic, event, payload, ref, join_ref)
        raw = _as_bytes(data, binary=True)
        if not raw:
            raise InvalidMessageError("empty binary frame (expected a kind byte)")
        kind = raw[0]
        if kind == _KIND_PUSH:
            join_ref_len, topic_len, event_len = _binary_header(raw, "push", 4)
            reader = _HeaderReader(raw, "push", 4)
            join_ref_s = reader.take(join_ref_len, "join_ref")
            topic = reader.take(topic_len, "topic")
            event = reader.take(event_len, "event")
            return Message(topic, event, reader.rest(), None, join_ref_s)
        if kind == _KIND_REPLY:
            join_ref_len, ref_len, topic_len, status_len = _binary_header(raw, "reply", 5)
            reader = _HeaderReader(raw, "reply", 5)
            join_ref_s = reader.take(join_ref_len, "join_ref")
            ref_s = reader.take(ref_len, "ref")
            topic = reader.take(topic_len, "topic")
            status = reader.take(status_len, "status")
            return ReplyMessage(topic, status, reader.rest(), ref_s, join_ref_s)
        if kind == _KIND_BROADCAST:
            topic_len, event_len = _binary_header(raw, "broadcast", 3)
            reader = _HeaderReader(raw, "broadcast", 3)
            topic = reader.take(topic_len, "topic")
            event = reader.take(event_len, "event")
            return Message(topic, event, reader.rest(), None, None)
        raise InvalidMessageError(f"unknown binary message kind {kind}")


#: The shared V1 serializer instance.
V1_JSON_SERIALIZER: Final = V1JSONSerializer()
#: The shared V2 serializer instance.
V2_JSON_SERIALIZER: Final = V2JSONSerializer()


# --------------------------------------------------------------------------------------
# vsn negotiation
# --------------------------------------------------------------------------------------

_NUM = r"(?:0|[1-9][0-9]*)"
_IDENTS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
# Elixir's Version.parse/1: exactly MAJOR.MINOR.PATCH, no leading zeros, optional
# -pre and +build made of dot-separated non-empty [0-9A-Za-z-] identifiers.
_VERSION_RE: Final = re.compile(rf"({_NUM})\.({_NUM})\.({_NUM})(?:-({_IDENTS}))?(?:\+{_IDENTS})?")
_LEADING_ZERO_NUMERIC: Final = re.compile(r"0[0-9]+")


def _parse_version(vsn: str) -> tuple[int, int, int, bool] | None:
    """Parse like Elixir's ``Version.parse/1``: ``(major, minor, patch, has_pre)``."""
    match = _VERSION_RE.fullmatch(vsn)
    if match is None:
        return None
    pre = match.group(4)
    if pre is not None and any(_LEADING_ZERO_NUMERIC.fullmatch(p) for p in pre.split(".")):
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), pre is not None


def negotiate_serializer(vsn: object) -> Serializer | None:
    """Pick the serializer for a client's ``vsn`` query parameter (§1.1).

    A missing ``vsn`` means ``"1.0.0"``. The requirements are tried in Phoenix's order,
    ``"~> 1.0.0"`` (V1) then ``"~> 2.0.0"`` (V2), with Elixir's ``Version.match?/2``
    semantics (pre-releases allowed): ``~> X.0.0`` matches ``X.0.P`` for any patch, and
    ``X.0.P-pre`` when ``P > 0``.

    Args:
        vsn: The ``vsn`` query parameter (a ``str``), or ``None`` when absent. Any other
            value (for example a list from ``vsn[]=1``) is refused.

    Returns:
        The serializer, or ``None`` when ``vsn`` is not a full ``X.Y.Z`` semver (or not a
        string) or matches no requirement; the transport then refuses the connection
        (WebSocket 403, long-poll ``{"status":403}``).
    """
    if vsn is None:
        return V1_JSON_SERIALIZER
    if not isinstance(vsn, str):
        return None
    parsed = _parse_version(vsn)
    if parsed is None:
        return None
    major, minor, patch, has_pre = parsed
    # ~> M.0.0  ==  >= M.0.0 and < M.1.0-0
    if minor != 0 or (patch == 0 and has_pre):
        return None
    if major == 1:
        return V1_JSON_SERIALIZER
    if major == 2:
        return V2_JSON_SERIALIZER
    return None

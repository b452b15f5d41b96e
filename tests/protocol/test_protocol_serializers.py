"""Example-based tests of the V1 and V2 serializers and vsn negotiation (§1 of the reference)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from channels.protocol import (
    V1_JSON_SERIALIZER,
    V2_JSON_SERIALIZER,
    Broadcast,
    EncodeError,
    Frame,
    InvalidMessageError,
    Message,
    Opcode,
    ProtocolError,
    ReplyMessage,
    Serializer,
    V1JSONSerializer,
    V2JSONSerializer,
    negotiate_serializer,
)

V1 = V1_JSON_SERIALIZER
V2 = V2_JSON_SERIALIZER


def _json(frame: Frame) -> Any:
    assert frame.opcode is Opcode.TEXT
    return orjson.loads(frame.data)


# -- §1.5 binary test vectors ------------------------------------------------------------


def test_v2_binary_client_push_vector_decodes() -> None:
    data = bytes([0x00, 0x02, 0x03, 0x05, 0x05]) + b"12" + b"123" + b"topic" + b"event" + b"efg"
    assert V2.decode(data, binary=True) == Message(
        topic="topic", event="event", payload=b"efg", ref="123", join_ref="12"
    )


def test_v2_binary_reply_vector_encodes_kind_1_with_status() -> None:
    frame = V2.encode_reply(
        ReplyMessage(topic="topic", status="ok", payload=bytes([101, 102, 103]), ref="123", join_ref="12")
    )
    assert frame == Frame(
        Opcode.BINARY,
        bytes([0x01, 0x02, 0x03, 0x05, 0x02]) + b"12" + b"123" + b"topic" + b"ok" + b"efg",
    )


def test_v2_binary_push_vector_encodes_kind_0_without_ref() -> None:
    frame = V2.encode_push(Message(topic="topic", event="event", payload=b"efg", join_ref="12"))
    assert frame == Frame(
        Opcode.BINARY, bytes([0x00, 0x02, 0x05, 0x05]) + b"12" + b"topic" + b"event" + b"efg"
    )


def test_v2_binary_broadcast_vector_encodes_kind_2() -> None:
    frame = V2.fastlane(Broadcast(topic="topic", event="event", payload=b"efg"))
    assert frame == Frame(Opcode.BINARY, bytes([0x02, 0x05, 0x05]) + b"topic" + b"event" + b"efg")


# -- seed transcript (Real-Time Phoenix, wscat session) --------------------------------


@pytest.mark.parametrize(
    ("client", "server"),
    [
        (
            '["1","1","ping","phx_join",{}]',
            '["1","1","ping","phx_reply",{"response":{},"status":"ok"}]',
        ),
        (
            '["1","2","ping","ping",{}]',
            '["1","2","ping","phx_reply",{"response":{"ping":"pong"},"status":"ok"}]',
        ),
        (
            '["1","3","ping","ping",{"ack_phrase":"hooray!"}]',
            '["1","3","ping","phx_reply",{"response":{"ping":"hooray!"},"status":"ok"}]',
        ),
        (
            '["1","2","wild:1:2","ping",{}]',
            '["1","2","wild:1:2","phx_reply",{"response":{"ping":"pong"},"status":"ok"}]',
        ),
    ],
)
def test_v2_seed_transcript_frames_decode_and_replies_encode_byte_exact(
    client: str, server: str
) -> None:
    msg = V2.decode(client, binary=False)
    assert msg.join_ref == "1"
    response = orjson.loads(server)[4]["response"]
    frame = V2.encode_reply(ReplyMessage(msg.topic, "ok", response, msg.ref, msg.join_ref))
    assert frame.opcode is Opcode.TEXT
    assert frame.data == server.encode()


def test_v2_join_frame_from_seed_decodes_every_field() -> None:
    assert V2.decode('["1","1","ping","phx_join",{}]', binary=False) == Message(
        topic="ping", event="phx_join", payload={}, ref="1", join_ref="1"
    )


# -- V2 text ------------------------------------------------------------------------------


def test_v2_decode_accepts_bytes_and_str_alike() -> None:
    raw = '[null,"8","phoenix","heartbeat",{}]'
    assert V2.decode(raw, binary=False) == V2.decode(raw.encode(), binary=False)
    assert V2.decode(bytearray(raw.encode()), binary=False).ref == "8"


def test_v2_decode_ignores_elements_after_the_fifth() -> None:
    msg = V2.decode('["3","7","room:lobby","new_msg",{"a":1},"extra",42]', binary=False)
    assert msg == Message("room:lobby", "new_msg", {"a": 1}, "7", "3")


def test_v2_decode_keeps_refs_exactly_as_sent_including_integers_and_null() -> None:
    msg = V2.decode('[5,null,"t","e",{}]', binary=False)
    assert msg.join_ref == 5
    assert msg.ref is None
    frame = V2.encode_reply(ReplyMessage(msg.topic, "ok", {}, msg.ref, msg.join_ref))
    assert _json(frame)[:2] == [5, None]


@pytest.mark.parametrize("payload", ['"text"', "[1,2]", "3", "null", '{"k":[true]}'])
def test_v2_text_decode_accepts_any_json_payload(payload: str) -> None:
    msg = V2.decode(f'["1","2","t","e",{payload}]', binary=False)
    assert msg.payload == orjson.loads(payload)


def test_v2_push_encodes_array_with_null_ref() -> None:
    frame = V2.encode_push(Message("room:lobby", "new_msg", {"body": "hi"}, None, "3"))
    assert frame.data == b'["3",null,"room:lobby","new_msg",{"body":"hi"}]'


def test_v2_reply_encodes_status_and_response() -> None:
    frame = V2.encode_reply(ReplyMessage("room:lobby", "error", {"reason": "join crashed"}, "5", "3"))
    assert frame.data == (
        b'["3","5","room:lobby","phx_reply",{"response":{"reason":"join crashed"},"status":"error"}]'
    )


def test_v2_reply_response_may_be_any_json_value() -> None:
    assert _json(V2.encode_reply(ReplyMessage("t", "ok", [1, "x"], "1", None)))[4] == {
        "response": [1, "x"],
        "status": "ok",
    }


def test_v2_heartbeat_reply_has_null_join_ref() -> None:
    frame = V2.encode_reply(ReplyMessage("phoenix", "ok", {}, "8", None))
    assert frame.data == b'[null,"8","phoenix","phx_reply",{"response":{},"status":"ok"}]'


def test_v2_fastlane_encodes_null_join_ref_and_ref() -> None:
    frame = V2.fastlane(Broadcast("room:lobby", "new_msg", {"n": 1}))
    assert frame == Frame(Opcode.TEXT, b'[null,null,"room:lobby","new_msg",{"n":1}]')


@pytest.mark.parametrize("payload", ["text", [1], 3, None])
def test_v2_push_payload_must_be_a_map_or_bytes(payload: object) -> None:
    with pytest.raises(EncodeError, match="expected payload to be a map"):
        V2.encode_push(Message("t", "e", payload, None, "1"))


@pytest.mark.parametrize("payload", ["text", [1], 3, None])
def test_v2_broadcast_payload_must_be_a_map_or_bytes(payload: object) -> None:
    with pytest.raises(EncodeError, match="expected broadcasted payload to be a map"):
        V2.fastlane(Broadcast("t", "e", payload))


def test_v2_unencodable_payload_raises_encode_error() -> None:
    with pytest.raises(EncodeError, match="unable to encode payload as JSON"):
        V2.encode_push(Message("t", "e", {"x": object()}, None, "1"))
    with pytest.raises(EncodeError, match="as JSON"):
        V2.fastlane(Broadcast("t", "e", {"big": 2**70}))
    with pytest.raises(EncodeError, match="as JSON"):
        V2.encode_reply(ReplyMessage("t", "ok", {1: "non-str key"}, "1", "1"))


def test_v2_binary_push_encodes_null_join_ref_as_empty_string() -> None:
    frame = V2.encode_push(Message("t", "e", b"", None, None))
    assert frame.data == bytes([0, 0, 1, 1]) + b"te"


def test_v2_binary_reply_renders_integer_refs_as_text() -> None:
    frame = V2.encode_reply(ReplyMessage("t", "ok", b"!", 12, 3))
    assert frame.data == bytes([1, 1, 2, 1, 2]) + b"3" + b"12" + b"t" + b"ok" + b"!"


@pytest.mark.parametrize("field", ["topic", "event", "join_ref"])
def test_v2_binary_header_fields_over_255_bytes_raise(field: str) -> None:
    values = {"topic": "t", "event": "e", "join_ref": "1"}
    values[field] = "é" * 128  # 256 bytes of UTF-8
    msg = Message(values["topic"], values["event"], b"x", None, values["join_ref"])
    with pytest.raises(EncodeError, match=rf"unable to convert {field} to binary.*is 256 bytes"):
        V2.encode_push(msg)


def test_v2_binary_header_field_of_exactly_255_bytes_is_accepted() -> None:
    topic = "t" * 255
    frame = V2.fastlane(Broadcast(topic, "e", b""))
    assert frame.data[:3] == bytes([2, 255, 1])


def test_v2_binary_reply_status_over_255_bytes_raises() -> None:
    with pytest.raises(EncodeError, match="unable to convert status to binary"):
        V2.encode_reply(ReplyMessage("t", "s" * 256, b"", "1", "1"))


def test_v2_binary_decode_keeps_empty_join_ref_as_empty_string_not_none() -> None:
    msg = V2.decode(bytes([0, 0, 1, 1, 1]) + b"5te", binary=True)
    assert msg.join_ref == ""
    assert msg.ref == "5"
    assert msg.payload == b""


def test_v2_binary_decode_accepts_memoryview() -> None:
    data = bytes([0, 1, 1, 1, 1]) + b"12te" + b"\xff"
    assert V2.decode(memoryview(data), binary=True).payload == b"\xff"


# -- V2 errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("[1,2", "invalid JSON in V2 text frame"),
        ("", "invalid JSON in V2 text frame"),
        (b"\xff\xfe", "invalid JSON in V2 text frame"),
        ('{"topic":"t"}', r"expected an array \[join_ref, ref, topic, event, payload\].*dict"),
        ('"string"', "expected an array"),
        ('["1","2","t","e"]', "has 4 elements, expected at least 5"),
        ("[]", "has 0 elements"),
        ('["1","2",3,"e",{}]', "topic must be a string, got int 3"),
        ('["1","2","t",null,{}]', "event must be a string, got NoneType None"),
        ('[true,"2","t","e",{}]', "join_ref must be a string, an integer or null, got bool"),
        ('["1",1.5,"t","e",{}]', "ref must be a string, an integer or null, got float"),
        ('["1",["x"],"t","e",{}]', "ref must be a string, an integer or null, got list"),
    ],
)
def test_v2_text_decode_errors_say_what_is_wrong(data: str | bytes, match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        V2.decode(data, binary=False)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty binary frame"),
        (b"\x01\x00\x00\x00\x00", r"unexpected binary message kind 1 \(reply\)"),
        (b"\x02\x00\x00", r"unexpected binary message kind 2 \(broadcast\)"),
        (b'["1","1","t","e",{}]', r"unexpected binary message kind 91 \(unknown\)"),
        (b"\x00\x01\x01\x01", "binary push frame is 4 bytes, shorter than its 5-byte header"),
        (b"\x00\x00\x00\x05\x01tt", "topic length 5 at offset 5 runs past the end of the frame"),
        (b"\x00\x00\x00\x01\x03te", "event length 3 at offset 6 runs past the end"),
        (b"\x00\x00\x00\x01\x01\xffe", "topic is not valid UTF-8"),
    ],
)
def test_v2_binary_decode_errors_say_what_is_wrong(data: bytes, match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        V2.decode(data, binary=True)


def test_decode_errors_are_protocol_errors_and_value_errors() -> None:
    with pytest.raises(ProtocolError):
        V2.decode("nope", binary=False)
    with pytest.raises(ValueError, match="invalid JSON"):
        V1.decode("nope", binary=False)


def test_v2_binary_decode_rejects_str_data() -> None:
    with pytest.raises(TypeError, match="bytes-like"):
        V2.decode("\x00\x00\x00\x00\x00", binary=True)


def test_long_values_are_truncated_in_error_messages() -> None:
    with pytest.raises(InvalidMessageError) as info:
        V2.decode(orjson.dumps({"x": "y" * 10_000}), binary=False)
    assert len(str(info.value)) < 200


# -- V1 -------------------------------------------------------------------------------


def test_v1_decode_reads_object_with_optional_join_ref() -> None:
    raw = '{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"1"}'
    assert V1.decode(raw, binary=False) == Message("room:lobby", "phx_join", {}, "1", None)
    raw2 = '{"topic":"t","event":"e","payload":"p","ref":null,"join_ref":"4"}'
    assert V1.decode(raw2, binary=False) == Message("t", "e", "p", None, "4")


def test_v1_decode_parses_binary_opcode_frames_as_json_like_phoenix() -> None:
    raw = b'{"topic":"t","event":"e","payload":{},"ref":"1"}'
    assert V1.decode(raw, binary=True) == Message("t", "e", {}, "1", None)


@pytest.mark.parametrize("missing", ["topic", "event", "payload", "ref"])
def test_v1_decode_missing_key_error_names_the_key(missing: str) -> None:
    obj = {"topic": "t", "event": "e", "payload": {}, "ref": "1"}
    del obj[missing]
    with pytest.raises(InvalidMessageError, match=f'^missing key "{missing}"$'):
        V1.decode(orjson.dumps(obj), binary=False)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ('["1","1","t","e",{}]', "V1 JSON Serializer expected a map, got list"),
        ("42", "V1 JSON Serializer expected a map, got int 42"),
        ("{", "invalid JSON in V1 text frame"),
        ('{"topic":1,"event":"e","payload":{},"ref":"1"}', "topic must be a string"),
        ('{"topic":"t","event":"e","payload":{},"ref":{}}', "ref must be a string"),
        (
            '{"topic":"t","event":"e","payload":{},"ref":"1","join_ref":false}',
            "join_ref must be a string",
        ),
    ],
)
def test_v1_decode_errors_say_what_is_wrong(data: str, match: str) -> None:
    with pytest.raises(InvalidMessageError, match=match):
        V1.decode(data, binary=False)


def test_v1_push_encodes_sorted_keys_without_join_ref() -> None:
    frame = V1.encode_push(Message("t", "e", "m", None, "3"))
    assert frame == Frame(Opcode.TEXT, b'{"event":"e","payload":"m","ref":null,"topic":"t"}')


def test_v1_reply_encodes_phx_reply_envelope_without_join_ref() -> None:
    frame = V1.encode_reply(ReplyMessage("t", "ok", {"a": 1}, "5", "3"))
    assert frame.data == (
        b'{"event":"phx_reply","payload":{"response":{"a":1},"status":"ok"},"ref":"5","topic":"t"}'
    )


def test_v1_fastlane_encodes_null_ref_and_accepts_non_map_payloads() -> None:
    frame = V1.fastlane(Broadcast("t", "e", "m"))
    assert frame.data == b'{"event":"e","payload":"m","ref":null,"topic":"t"}'


def test_v1_rejects_binary_payloads() -> None:
    match = "V1 JSON serializer does not support binary"
    with pytest.raises(EncodeError, match=match):
        V1.encode_push(Message("t", "e", b"x"))
    with pytest.raises(EncodeError, match=match):
        V1.encode_reply(ReplyMessage("t", "ok", b"x"))
    with pytest.raises(EncodeError, match=match):
        V1.fastlane(Broadcast("t", "e", b"x"))
    with pytest.raises(EncodeError, match=match):
        V1.encode_client(Message("t", "e", b"x"))


def test_v1_unencodable_payload_raises_encode_error() -> None:
    with pytest.raises(EncodeError, match="as JSON"):
        V1.encode_push(Message("t", "e", {"x": {1, 2}}))
    with pytest.raises(EncodeError, match="as JSON"):
        V1.encode_reply(ReplyMessage("t", "ok", {"x": {1, 2}}))
    with pytest.raises(EncodeError, match="as JSON"):
        V1.fastlane(Broadcast("t", "e", {"x": {1, 2}}))


# -- client side (encode_client / decode_server) ----------------------------------------


def test_v2_client_binary_push_uses_the_5_byte_header() -> None:
    frame = V2.encode_client(Message("topic", "event", b"efg", "123", "12"))
    assert frame.data == bytes([0, 2, 3, 5, 5]) + b"12123topicevent" + b"efg"
    assert V2.decode(frame.data, binary=True) == Message("topic", "event", b"efg", "123", "12")


def test_v2_decode_server_reads_replies_pushes_and_binary_kinds() -> None:
    text_reply = b'["1","1","ping","phx_reply",{"response":{},"status":"ok"}]'
    assert V2.decode_server(text_reply, binary=False) == ReplyMessage("ping", "ok", {}, "1", "1")
    push = V2.encode_push(Message("t", "e", b"\x00\x01", None, "9"))
    assert V2.decode_server(push.data, binary=True) == Message("t", "e", b"\x00\x01", None, "9")
    reply = V2.encode_reply(ReplyMessage("t", "error", b"zz", "4", "9"))
    assert V2.decode_server(reply.data, binary=True) == ReplyMessage("t", "error", b"zz", "4", "9")
    bcast = V2.fastlane(Broadcast("t", "e", b"!"))
    assert V2.decode_server(bcast.data, binary=True) == Message("t", "e", b"!", None, None)


def test_v2_decode_server_errors() -> None:
    with pytest.raises(InvalidMessageError, match="unknown binary message kind 7"):
        V2.decode_server(b"\x07", binary=True)
    with pytest.raises(InvalidMessageError, match="empty binary frame"):
        V2.decode_server(b"", binary=True)
    with pytest.raises(InvalidMessageError, match="phx_reply payload must be"):
        V2.decode_server('["1","1","t","phx_reply",{"status":"ok"}]', binary=False)
    with pytest.raises(InvalidMessageError, match="shorter than its 3-byte header"):
        V2.decode_server(b"\x02\x01", binary=True)


def test_v1_client_frames_carry_join_ref_only_when_set() -> None:
    assert orjson.loads(V1.encode_client(Message("t", "e", {}, "1")).data) == {
        "topic": "t",
        "event": "e",
        "payload": {},
        "ref": "1",
    }
    assert orjson.loads(V1.encode_client(Message("t", "e", {}, "1", "2")).data)["join_ref"] == "2"


def test_v1_decode_server_reads_replies_and_pushes() -> None:
    reply = V1.encode_reply(ReplyMessage("t", "ok", {"x": 1}, "5", "3"))
    assert V1.decode_server(reply.data, binary=False) == ReplyMessage("t", "ok", {"x": 1}, "5", None)
    push = V1.encode_push(Message("t", "e", [1], None, "3"))
    assert V1.decode_server(push.data, binary=False) == Message("t", "e", [1], None, None)
    with pytest.raises(InvalidMessageError, match='missing key "ref"'):
        V1.decode_server('{"event":"e","payload":{},"topic":"t"}', binary=False)
    with pytest.raises(InvalidMessageError, match="must be a map"):
        V1.decode_server("[]", binary=False)


# -- cattrs converters ------------------------------------------------------------------


def test_v2_converter_round_trips_messages_with_strict_validation() -> None:
    conv = V2.converter
    msg = Message("t", "e", {"a": 1}, "2", "1")
    assert conv.loads(conv.dumps(msg), Message) == msg
    assert conv.dumps(Broadcast("t", "e", {})) == b'[null,null,"t","e",{}]'
    with pytest.raises(InvalidMessageError, match="topic must be a string"):
        conv.loads(b'["1","2",123,"e",{}]', Message)


def test_v1_converter_uses_the_object_shape() -> None:
    assert V1.converter.dumps(Broadcast("t", "e", 1)) == (
        b'{"event":"e","payload":1,"ref":null,"topic":"t"}'
    )
    assert V1.converter.structure({"topic": "t", "event": "e", "payload": 1, "ref": None}, Message)


# -- negotiation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vsn", "expected"),
    [
        (None, V1JSONSerializer),
        ("1.0.0", V1JSONSerializer),
        ("1.0.7", V1JSONSerializer),
        ("2.0.0", V2JSONSerializer),
        ("2.0.3", V2JSONSerializer),
        ("2.0.1-dev", V2JSONSerializer),
        ("2.0.0+build.5", V2JSONSerializer),
        ("1.0.0+sha", V1JSONSerializer),
    ],
)
def test_negotiate_serializer_selects_by_vsn_requirement(
    vsn: str | None, expected: type[Serializer]
) -> None:
    assert type(negotiate_serializer(vsn)) is expected


@pytest.mark.parametrize(
    "vsn",
    [
        "123.1.1",
        "2.1.0",
        "1.1.0",
        "3.0.0",
        "0.0.1",
        "2.0.0-rc.1",  # a pre-release of 2.0.0 sorts before 2.0.0
        "2.0",
        "2",
        "",
        "2.0.0.0",
        "02.0.0",
        "2.00.0",
        "v2.0.0",
        " 2.0.0",
        "2.0.0-",
        "2.0.1-01",
        "2.0.0+",
        "2.0.1-a..b",
        ["2.0.0"],
        1,
    ],
)
def test_negotiate_serializer_refuses_unparsable_or_unmatched_vsn(vsn: object) -> None:
    assert negotiate_serializer(vsn) is None


def test_negotiated_serializers_are_shared_hashable_singletons() -> None:
    assert negotiate_serializer("2.0.0") is negotiate_serializer("2.0.1") is V2
    cache = {V1: "a", V2: "b"}
    assert cache[negotiate_serializer(None)] == "a"  # type: ignore[index]
    assert repr(V2) == "<V2JSONSerializer vsn='2.0.0'>"
    assert (V1.requirement, V2.requirement) == ("~> 1.0.0", "~> 2.0.0")

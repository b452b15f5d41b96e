"""Hypothesis properties of the serializers: round trips, header lengths, robust decoding."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, strategies as st

from channels.protocol import (
    V1_JSON_SERIALIZER,
    V2_JSON_SERIALIZER,
    Broadcast,
    EncodeError,
    InvalidMessageError,
    Message,
    Opcode,
    ReplyMessage,
    Serializer,
)

V1 = V1_JSON_SERIALIZER
V2 = V2_JSON_SERIALIZER

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=4)
refs = st.none() | st.text(max_size=8) | st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Header fields that fit in a binary frame (at most 255 bytes of UTF-8).
short_text = st.text(max_size=60)
binary_payloads = st.binary(max_size=300)


def _as_text_ref(ref: object) -> str:
    return "" if ref is None else str(ref)


@given(short_text, short_text, json_values, refs, refs)
def test_v2_client_text_frames_decode_to_the_same_message(
    topic: str, event: str, payload: Any, ref: Any, join_ref: Any
) -> None:
    msg = Message(topic, event, payload, ref, join_ref)
    frame = V2.encode_client(msg)
    assert frame.opcode is Opcode.TEXT
    assert V2.decode(frame.data, binary=False) == msg
    assert V2.decode(frame.data.decode(), binary=False) == msg


@given(short_text, short_text, binary_payloads, refs, refs)
def test_v2_client_binary_frames_decode_with_refs_as_text(
    topic: str, event: str, payload: bytes, ref: Any, join_ref: Any
) -> None:
    frame = V2.encode_client(Message(topic, event, payload, ref, join_ref))
    assert frame.opcode is Opcode.BINARY
    assert V2.decode(frame.data, binary=True) == Message(
        topic, event, payload, _as_text_ref(ref), _as_text_ref(join_ref)
    )


@given(short_text, short_text, json_objects | binary_payloads, refs)
def test_v2_push_decodes_client_side_to_the_same_push(
    topic: str, event: str, payload: Any, join_ref: Any
) -> None:
    frame = V2.encode_push(Message(topic, event, payload, None, join_ref))
    decoded = V2.decode_server(frame.data, binary=frame.is_binary)
    if frame.is_binary:
        join_ref = _as_text_ref(join_ref)
    assert decoded == Message(topic, event, payload, None, join_ref)


@given(short_text, short_text, json_values | binary_payloads, refs, refs)
def test_v2_reply_decodes_client_side_to_the_same_reply(
    topic: str, status: str, payload: Any, ref: Any, join_ref: Any
) -> None:
    frame = V2.encode_reply(ReplyMessage(topic, status, payload, ref, join_ref))
    assert frame.is_binary == isinstance(payload, bytes)
    if frame.is_binary:
        ref, join_ref = _as_text_ref(ref), _as_text_ref(join_ref)
    assert V2.decode_server(frame.data, binary=frame.is_binary) == ReplyMessage(
        topic, status, payload, ref, join_ref
    )


@given(short_text, short_text, json_objects | binary_payloads)
def test_v2_fastlane_decodes_client_side_with_null_refs(
    topic: str, event: str, payload: Any
) -> None:
    frame = V2.fastlane(Broadcast(topic, event, payload))
    assert V2.decode_server(frame.data, binary=frame.is_binary) == Message(
        topic, event, payload, None, None
    )


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
def test_v2_binary_header_lengths_are_utf8_byte_lengths_up_to_255(
    topic: str, event: str, join_ref: str
) -> None:
    sizes = [len(s.encode()) for s in (join_ref, topic, event)]
    msg = Message(topic, event, b"data", None, join_ref)
    if max(sizes) > 255:
        with pytest.raises(EncodeError, match="must be less than or equal to 255 bytes"):
            V2.encode_push(msg)
        return
    data = V2.encode_push(msg).data
    assert list(data[:4]) == [0, *sizes]
    assert len(data) == 4 + sum(sizes) + 4
    assert data.endswith(b"data")


@given(short_text, short_text, json_values, refs, refs)
def test_v1_client_frames_decode_to_the_same_message(
    topic: str, event: str, payload: Any, ref: Any, join_ref: Any
) -> None:
    msg = Message(topic, event, payload, ref, join_ref)
    assert V1.decode(V1.encode_client(msg).data, binary=False) == msg


@given(short_text, short_text, json_values, refs, refs)
def test_v1_server_frames_never_carry_join_ref(
    topic: str, event: str, payload: Any, ref: Any, join_ref: Any
) -> None:
    push = orjson.loads(V1.encode_push(Message(topic, event, payload, ref, join_ref)).data)
    reply = orjson.loads(V1.encode_reply(ReplyMessage(topic, event, payload, ref, join_ref)).data)
    assert list(push) == ["event", "payload", "ref", "topic"]
    assert list(reply) == ["event", "payload", "ref", "topic"]
    assert V1.decode_server(orjson.dumps(push), binary=False) == Message(
        topic, event, payload, ref, None
    )


@pytest.mark.parametrize("serializer", [V1, V2], ids=["v1", "v2"])
@given(data=st.binary(max_size=64), binary=st.booleans())
def test_decoding_arbitrary_bytes_raises_only_invalid_message_error(
    serializer: Serializer, data: bytes, binary: bool
) -> None:
    try:
        serializer.decode(data, binary=binary)
    except InvalidMessageError:
        pass


@given(
    st.lists(
        json_values | st.sampled_from(["phx_join", "t", "1"]), min_size=0, max_size=7
    )
)
def test_v2_decoding_arbitrary_json_arrays_validates_or_raises_clearly(items: list[Any]) -> None:
    try:
        msg = V2.decode(orjson.dumps(items), binary=False)
    except InvalidMessageError:
        pass
    else:
        assert isinstance(msg.topic, str)
        assert isinstance(msg.event, str)
        assert msg.payload == items[4]
        assert msg.join_ref is None or type(msg.join_ref) in (str, int)

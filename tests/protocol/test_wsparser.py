"""The server's parser of client WebSocket frames (RFC 6455 §5): properties and violations."""

from __future__ import annotations

import os

from hypothesis import given, settings, strategies as st

from channels.protocol._wsparser import (
    CloseFrame,
    FrameParser,
    Message,
    PingFrame,
    PongFrame,
    ProtocolViolation,
    unmask,
)


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    if n < 126:
        header = bytes([b0, mask_bit | n])
    elif n < 0x10000:
        header = bytes([b0, mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([b0, mask_bit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + unmask(payload, mask)


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


messages = st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=70_000)), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(messages, st.lists(st.integers(min_value=0), max_size=8), st.integers(min_value=1, max_value=4))
def test_messages_survive_any_fragmentation_and_any_chunking(msgs: list[str | bytes], cuts: list[int],
                                                            pieces: int) -> None:
    wire = b""
    for msg in msgs:
        raw = msg.encode() if isinstance(msg, str) else msg
        opcode = 1 if isinstance(msg, str) else 2
        step = max(1, len(raw) // pieces)
        parts = [raw[i:i + step] for i in range(0, len(raw), step)] or [b""]
        for i, part in enumerate(parts):
            wire += client_frame(opcode if i == 0 else 0, part, fin=i == len(parts) - 1)
            if i == 0:
                wire += client_frame(0x9, b"ping")  # control frames may interleave
    parser = FrameParser(max_message_size=10_000_000)
    events = [e for chunk in chunks(wire, cuts) for e in parser.feed(chunk)]
    assert [e.data for e in events if isinstance(e, Message)] == msgs
    assert sum(isinstance(e, PingFrame) for e in events) == len(msgs)


def test_close_frame_with_code_and_reason() -> None:
    parser = FrameParser(max_message_size=100)
    assert parser.feed(client_frame(0x8, (1001).to_bytes(2, "big") + b"bye")) == [CloseFrame(1001, "bye")]
    assert parser.feed(client_frame(0x1, b"late")) == []


def test_pong_and_empty_close() -> None:
    parser = FrameParser(max_message_size=100)
    assert parser.feed(client_frame(0xA, b"x") + client_frame(0x8, b"")) == [PongFrame(b"x"), CloseFrame(None, "")]


def violation(data: bytes, max_size: int = 100) -> int:
    events = FrameParser(max_message_size=max_size).feed(data)
    assert len(events) == 1
    assert isinstance(events[0], ProtocolViolation)
    return events[0].code


def test_unmasked_client_frames_are_a_protocol_error() -> None:
    assert violation(client_frame(0x1, b"hi", masked=False)) == 1002


def test_reserved_bits_and_unknown_opcodes_are_protocol_errors() -> None:
    assert violation(client_frame(0x1, b"hi", rsv=0x40)) == 1002
    assert violation(client_frame(0x3, b"hi")) == 1002
    assert violation(client_frame(0xB, b"hi")) == 1002


def test_control_frames_must_be_short_and_unfragmented() -> None:
    assert violation(client_frame(0x9, b"x" * 126)) == 1002
    assert violation(client_frame(0x9, b"x", fin=False)) == 1002


def test_continuation_rules() -> None:
    assert violation(client_frame(0x0, b"x")) == 1002
    assert violation(client_frame(0x1, b"a", fin=False) + client_frame(0x1, b"b")) == 1002


def test_invalid_utf8_is_1007_even_across_fragments() -> None:
    assert violation(client_frame(0x1, b"\xff")) == 1007
    assert violation(client_frame(0x1, b"\xe2\x82", fin=False) + client_frame(0x0, b"A")) == 1007
    assert violation(client_frame(0x8, (1000).to_bytes(2, "big") + b"\xff")) == 1007


def test_invalid_close_codes_and_lengths() -> None:
    assert violation(client_frame(0x8, b"\x03")) == 1002
    assert violation(client_frame(0x8, (1005).to_bytes(2, "big"))) == 1002
    assert violation(client_frame(0x8, (999).to_bytes(2, "big"))) == 1002


def test_oversized_messages_are_1009() -> None:
    assert violation(client_frame(0x2, b"x" * 101)) == 1009
    assert violation(client_frame(0x2, b"x" * 60, fin=False) + client_frame(0x0, b"x" * 60)) == 1009

"""Long-poll response bodies and ndjson POST parsing (§4.4, §4.5)."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given, strategies as st

from channels.protocol import (
    MAX_BASE64_LINE_BYTES,
    V2_JSON_SERIALIZER,
    EncodeError,
    Frame,
    LongPollBodyError,
    Message,
    Opcode,
    ReplyMessage,
    encode_longpoll_response,
    iter_longpoll_post,
    parse_longpoll_post,
)

NDJSON = "application/x-ndjson"


def test_longpoll_messages_are_json_strings_of_text_frames() -> None:
    frame = V2_JSON_SERIALIZER.encode_reply(ReplyMessage("room:lobby", "ok", {}, "1", "1"))
    body = encode_longpoll_response(200, "tok", [frame])
    assert orjson.loads(body) == {
        "status": 200,
        "token": "tok",
        "messages": ['["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]'],
    }
    assert b'"[\\"1\\",\\"1\\",\\"room:lobby\\"' in body


def test_longpoll_new_session_and_status_only_bodies() -> None:
    assert orjson.loads(encode_longpoll_response(410, "t", [])) == {
        "status": 410,
        "token": "t",
        "messages": [],
    }
    assert encode_longpoll_response(403) == b'{"status":403}'


def test_longpoll_response_accepts_raw_frame_bytes() -> None:
    body = encode_longpoll_response(200, "t", [b'[null,null,"t","e",{}]'])
    assert orjson.loads(body)["messages"] == ['[null,null,"t","e",{}]']


def test_longpoll_response_refuses_binary_frames() -> None:
    with pytest.raises(EncodeError, match="binary frames cannot be sent over long-poll"):
        encode_longpoll_response(200, "t", [Frame(Opcode.BINARY, b"\x02")])
    with pytest.raises(EncodeError, match="UTF-8"):
        encode_longpoll_response(200, "t", [b"\xff"])


def test_ndjson_lines_starting_with_bracket_are_text_others_base64_binary() -> None:
    binary = V2_JSON_SERIALIZER.encode_client(Message("t", "e", b"\x00\x01", "2", "1")).data
    body = b'["1","1","t","phx_join",{}]\n' + base64.b64encode(binary) + b'\r\n["1","3","t","x",{}]'
    assert parse_longpoll_post(body, NDJSON) == [
        (b'["1","1","t","phx_join",{}]', False),
        (binary, True),
        (b'["1","3","t","x",{}]', False),
    ]
    decoded = [V2_JSON_SERIALIZER.decode(d, binary=b) for d, b in parse_longpoll_post(body, NDJSON)]
    assert decoded[1] == Message("t", "e", b"\x00\x01", "2", "1")


def test_ndjson_only_the_first_100_lines_are_processed() -> None:
    body = b"\n".join(b'["1","%d","t","e",{}]' % i for i in range(150))
    frames = parse_longpoll_post(body, NDJSON)
    assert len(frames) == 100
    assert frames[-1] == (b'["1","99","t","e",{}]', False)


def test_ndjson_lines_past_the_100th_are_not_even_validated() -> None:
    body = b"\n".join([b"[]"] * 100 + [b"not base64!"])
    assert len(parse_longpoll_post(body, NDJSON)) == 100


def test_ndjson_empty_lines_are_skipped() -> None:
    assert parse_longpoll_post(b'[1]\n\n[2]\n', NDJSON) == [(b"[1]", False), (b"[2]", False)]


def test_v1_objects_cannot_be_batched_they_parse_as_bad_base64() -> None:
    with pytest.raises(LongPollBodyError, match="line 1 is neither a JSON array"):
        parse_longpoll_post(b'{"topic":"t"}', NDJSON)


@pytest.mark.parametrize("line", [b"abc", b"ab=c", b"a@bc", b"AAA=AAAA", b"AA==="])
def test_ndjson_bad_base64_raises_a_clear_error(line: bytes) -> None:
    with pytest.raises(LongPollBodyError, match="line 2"):
        parse_longpoll_post(b"[0]\n" + line, NDJSON)


def test_ndjson_base64_line_over_10mb_is_refused() -> None:
    line = b"A" * (MAX_BASE64_LINE_BYTES + 4)
    with pytest.raises(LongPollBodyError, match="more than the 10000000-byte limit"):
        parse_longpoll_post(line, NDJSON)


def test_ndjson_errors_surface_lazily_after_earlier_frames() -> None:
    frames = iter_longpoll_post(b"[1]\n!!!", NDJSON)
    assert next(frames) == (b"[1]", False)
    with pytest.raises(LongPollBodyError):
        next(frames)


@pytest.mark.parametrize(
    "content_type", [None, "", "application/json", "application/x-ndjson; charset=utf-8"]
)
def test_other_content_types_make_the_whole_body_one_text_frame(content_type: str | None) -> None:
    body = b'["1","1","t","e",{}]\n["1","2","t","e",{}]'
    assert parse_longpoll_post(body, content_type) == [(body, False)]


@given(
    st.lists(
        st.one_of(
            st.binary(min_size=1, max_size=64).map(lambda b: (b, True)),
            st.text(alphabet="abc[]{},\"0123", max_size=30).map(
                lambda s: (("[" + s).encode(), False)
            ),
        ),
        max_size=120,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_ndjson_round_trips_what_the_js_client_sends(
    frames: list[tuple[bytes, bool]], newline: bytes
) -> None:
    lines = [base64.b64encode(data) if binary else data for data, binary in frames]
    assert parse_longpoll_post(newline.join(lines), NDJSON) == frames[:100]

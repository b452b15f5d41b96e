"""The sans-IO server connection: opening handshake, close handshake state machine, deflate."""

from __future__ import annotations

import base64
import os
import zlib

import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from channels.protocol import (
    Accepted,
    CloseCode,
    CloseFrame,
    ConnectionState,
    HandshakeRequest,
    PingFrame,
    ProtocolViolation,
    Refused,
    ServerConnection,
    WSMessage,
    encode_ws_data,
)
from channels.protocol._deflate import negotiate_deflate
from channels.protocol._wsparser import unmask

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example


def request(*extra: tuple[str, str], drop: str = "", method: str = "GET", version: str = "1.1") -> HandshakeRequest:
    headers = [("host", "example.com"), ("upgrade", "websocket"), ("connection", "keep-alive, Upgrade"),
               ("sec-websocket-key", KEY), ("sec-websocket-version", "13")]
    headers = [h for h in headers if h[0] != drop and h[0] not in {n for n, _ in extra}] + list(extra)
    return HandshakeRequest(method, version, headers)


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        header = bytes([b0, 0x80 | n])
    elif n < 0x10000:
        header = bytes([b0, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([b0, 0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    return header + mask + unmask(payload, mask)


def server_frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """(first byte, opcode, payload) of each unmasked server frame in ``data``."""
    out = []
    while data:
        b0, n = data[0], data[1] & 0x7F
        pos = 2
        if n == 126:
            n, pos = int.from_bytes(data[2:4], "big"), 4
        elif n == 127:
            n, pos = int.from_bytes(data[2:10], "big"), 10
        out.append((b0, b0 & 0x0F, data[pos:pos + n]))
        data = data[pos + n:]
    return out


def opened(**kw: object) -> ServerConnection:
    conn = ServerConnection(max_message_size=1 << 20, **kw)  # type: ignore[arg-type]
    assert isinstance(conn.accept(request(), subprotocol=None), Accepted)
    return conn


# -- opening handshake -----------------------------------------------------------------------


def test_accept_answers_101_with_the_rfc_6455_accept_key_and_the_chosen_subprotocol() -> None:
    conn = ServerConnection(max_message_size=100)
    result = conn.accept(request(), subprotocol="phoenix")
    assert isinstance(result, Accepted)
    lines = result.data.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 101 Switching Protocols"
    assert "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in lines  # RFC 6455 §1.3
    assert "sec-websocket-protocol: phoenix" in lines
    assert result.data.endswith(b"\r\n\r\n")
    assert conn.state is ConnectionState.OPEN


@pytest.mark.parametrize(("req", "status", "reason"), [
    (request(version="1.0"), 400, "HTTP version HTTP/1.0 unsupported"),
    (request(method="POST"), 400, "HTTP method POST unsupported"),
    (request(("connection", "close")), 400, "'connection' header must contain 'upgrade', got [\"close\"]"),
    (request(drop="upgrade"), 400, "'upgrade' header must contain 'websocket', got []"),
    (request(drop="sec-websocket-key"), 400, "'sec-websocket-key' header is absent"),
    (request(("sec-websocket-key", "not base64!")), 400, "'sec-websocket-key' header must be 16 bytes"),
    (request(("sec-websocket-key", base64.b64encode(b"x" * 15).decode())), 400, "must be 16 bytes"),
    (request(("sec-websocket-key", base64.b64encode(b"x" * 17).decode())), 400, "must be 16 bytes"),
    (request(("host", "bücher.example")), 400, "'host' header must be ASCII"),
    (request(("content-length", "5")), 400, "must not have a body"),
    (request(("transfer-encoding", "chunked")), 400, "must not have a body"),
])
def test_an_invalid_upgrade_is_refused_with_400_and_says_why(req: HandshakeRequest, status: int,
                                                           reason: str) -> None:
    conn = ServerConnection(max_message_size=100)
    result = conn.accept(req, subprotocol=None)
    assert isinstance(result, Refused)
    assert (result.status, result.headers) == (status, ())
    assert reason in result.reason
    assert conn.state is ConnectionState.REJECTED


@pytest.mark.parametrize("versions", [["8"], ["13", "8"], []])
def test_another_websocket_version_gets_426_naming_version_13(versions: list[str]) -> None:
    # RFC 6455 §4.4: answer with the version(s) the server speaks.
    req = request(*[("sec-websocket-version", v) for v in versions], drop="sec-websocket-version")
    result = ServerConnection(max_message_size=100).accept(req, subprotocol=None)
    assert isinstance(result, Refused)
    assert result.status == 426
    assert result.headers == (("sec-websocket-version", "13"),)


def test_an_empty_content_length_is_not_a_body() -> None:
    assert isinstance(ServerConnection(max_message_size=1).accept(request(("content-length", "0")),
                                                                  subprotocol=None), Accepted)


# -- frames and the close handshake ----------------------------------------------------------


def test_a_ping_is_answered_with_a_pong_carrying_its_payload() -> None:
    conn = opened()
    assert conn.receive_data(client_frame(0x9, b"hi")) == [PingFrame(b"hi")]
    assert server_frames(conn.take_output()) == [(0x8A, 0xA, b"hi")]
    assert conn.take_output() == b""


def test_the_clients_close_is_echoed_with_its_code_and_ends_in_closed() -> None:
    conn = opened()
    events = conn.receive_data(client_frame(0x8, (1001).to_bytes(2, "big") + b"bye"))
    assert events == [CloseFrame(1001, "bye")]
    assert server_frames(conn.take_output()) == [(0x88, 0x8, (1001).to_bytes(2, "big"))]
    assert conn.state is ConnectionState.CLOSED
    assert (conn.close_received, conn.close_sent) == (1001, 1001)
    assert conn.close(CloseCode.NORMAL) == b""  # nothing more is sent


def test_a_close_without_status_is_echoed_empty_and_reads_as_1005() -> None:
    conn = opened()
    conn.receive_data(client_frame(0x8, b""))
    assert server_frames(conn.take_output()) == [(0x88, 0x8, b"")]
    assert conn.close_received == CloseCode.NO_STATUS


def test_after_our_close_the_clients_close_is_not_echoed_and_its_data_is_discarded() -> None:
    conn = opened()
    ours = conn.close(CloseCode.SERVICE_RESTART, "restart")
    assert server_frames(ours) == [(0x88, 0x8, (1012).to_bytes(2, "big") + b"restart")]
    assert conn.state is ConnectionState.LOCAL_CLOSING
    assert conn.receive_data(client_frame(0x1, b"late") + client_frame(0x9, b"")) == [PingFrame(b"")]
    assert conn.take_output() == b""  # no pong after our close frame
    assert conn.receive_data(client_frame(0x8, (1000).to_bytes(2, "big"))) == [CloseFrame(1000, "")]
    assert conn.take_output() == b""
    assert conn.state is ConnectionState.CLOSED


def test_a_protocol_violation_sends_our_close_with_its_code_and_stops_reading() -> None:
    conn = opened()
    events = conn.receive_data(client_frame(0x1, b"\xff"))
    assert events == [ProtocolViolation(CloseCode.INVALID_DATA, "text message is not valid UTF-8")]
    assert server_frames(conn.take_output())[0][2][:2] == (1007).to_bytes(2, "big")
    assert conn.state is ConnectionState.CLOSED
    assert conn.receive_data(client_frame(0x1, b"ok")) == []


def test_fail_for_a_server_limit_closes_with_that_code() -> None:
    conn = opened()
    conn.receive_data(client_frame(0x1, b"part", fin=False))
    assert conn.in_message
    assert conn.buffered_bytes == 4
    conn.fail(CloseCode.POLICY_VIOLATION, "message not completed in time")
    assert server_frames(conn.take_output())[0][2][:2] == (1008).to_bytes(2, "big")
    assert conn.state is ConnectionState.CLOSED
    assert conn.buffered_bytes == 0


def test_connection_lost_reads_as_1006() -> None:
    conn = opened()
    conn.connection_lost()
    assert (conn.state, conn.close_received) == (ConnectionState.CLOSED, CloseCode.ABNORMAL)


class CloseHandshake(RuleBasedStateMachine):
    """Whatever the order of events, the server sends at most one close frame, never sends
    anything after it, and ends CLOSED once both sides spoke (RFC 6455 §7.1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = opened()
        self.sent: list[tuple[int, int, bytes]] = []

    def _collect(self, data: bytes) -> None:
        self.sent.extend(server_frames(data))

    @rule(text=st.text(max_size=20))
    def client_message(self, text: str) -> None:
        events = self.conn.receive_data(client_frame(0x1, text.encode()))
        if self.conn.state is ConnectionState.OPEN:
            assert events == [WSMessage(text)]
        self._collect(self.conn.take_output())

    @rule(payload=st.binary(max_size=10))
    def client_ping(self, payload: bytes) -> None:
        self.conn.receive_data(client_frame(0x9, payload))
        self._collect(self.conn.take_output())

    @rule(code=st.sampled_from([None, 1000, 1001, 3000, 4999]))
    def client_close(self, code: int | None) -> None:
        payload = b"" if code is None else code.to_bytes(2, "big")
        self.conn.receive_data(client_frame(0x8, payload))
        self._collect(self.conn.take_output())

    @rule()
    def client_violation(self) -> None:
        self.conn.receive_data(client_frame(0x3, b""))
        self._collect(self.conn.take_output())

    @rule(code=st.sampled_from([1000, 1001, 1011, 1012]))
    def server_close(self, code: int) -> None:
        self._collect(self.conn.close(code))

    @precondition(lambda self: self.conn.state is not ConnectionState.CLOSED)
    @rule()
    def connection_lost(self) -> None:
        self.conn.connection_lost()

    @invariant()
    def at_most_one_close_frame_and_nothing_after_it(self) -> None:
        opcodes = [op for _, op, _ in self.sent]
        assert opcodes.count(0x8) <= 1
        if 0x8 in opcodes:
            assert opcodes[-1] == 0x8

    @invariant()
    def closed_once_both_sides_spoke(self) -> None:
        if self.conn.close_received not in (None, CloseCode.ABNORMAL):
            assert self.conn.state is ConnectionState.CLOSED


TestCloseHandshake = CloseHandshake.TestCase
TestCloseHandshake.settings = settings(max_examples=80, stateful_step_count=12, deadline=None)


# -- permessage-deflate ----------------------------------------------------------------------


def deflate_request(offer: str) -> HandshakeRequest:
    return request(("sec-websocket-extensions", offer))


@pytest.mark.parametrize(("offer", "answer"), [
    # RFC 7692 §7.1 parameters; the server always adds server_no_context_takeover.
    ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
    ("permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover"),
    ("permessage-deflate; client_no_context_takeover",
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    ("permessage-deflate; server_max_window_bits=10",
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
    # An invalid first offer is declined, the next one accepted (§5 "one of the offers").
    ("permessage-deflate; server_max_window_bits=16, permessage-deflate",
     "permessage-deflate; server_no_context_takeover"),
    ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate; server_no_context_takeover"),
])
def test_deflate_negotiation_accepts_the_first_valid_offer(offer: str, answer: str) -> None:
    conn = ServerConnection(max_message_size=100, compression=True)
    result = conn.accept(deflate_request(offer), subprotocol=None)
    assert isinstance(result, Accepted)
    assert f"sec-websocket-extensions: {answer}\r\n".encode() in result.data


@pytest.mark.parametrize("offer", [
    "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=16", "permessage-deflate; mystery",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_no_context_takeover=1",
])
def test_an_invalid_deflate_offer_is_declined_and_the_connection_runs_uncompressed(offer: str) -> None:
    conn = ServerConnection(max_message_size=100, compression=True)
    result = conn.accept(deflate_request(offer), subprotocol=None)
    assert isinstance(result, Accepted)
    assert b"sec-websocket-extensions" not in result.data
    assert conn.encoding == "ws"


def test_deflate_is_off_unless_the_mount_turns_it_on() -> None:
    conn = ServerConnection(max_message_size=100)
    result = conn.accept(deflate_request("permessage-deflate"), subprotocol=None)
    assert isinstance(result, Accepted)
    assert b"sec-websocket-extensions" not in result.data
    assert conn.receive_data(client_frame(0x1, b"x", rsv=0x40))[0].code == CloseCode.PROTOCOL_ERROR  # type: ignore[union-attr]


def client_compress(data: bytes, ctx: zlib._Compress | None = None) -> tuple[bytes, zlib._Compress]:
    ctx = ctx or zlib.compressobj(9, zlib.DEFLATED, -15)
    out = ctx.compress(data) + ctx.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4], ctx


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=400), st.binary(max_size=3000)), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=4), st.booleans())
def test_compressed_client_messages_in_any_fragmentation_read_back_as_sent(
        msgs: list[str | bytes], pieces: int, takeover: bool) -> None:
    offer = "permessage-deflate" + ("" if takeover else "; client_no_context_takeover")
    conn = ServerConnection(max_message_size=1 << 20, compression=True)
    conn.accept(deflate_request(offer), subprotocol=None)
    ctx = None
    wire = b""
    for msg in msgs:
        raw = msg.encode() if isinstance(msg, str) else msg
        data, ctx = client_compress(raw, ctx if takeover else None)
        step = max(1, len(data) // pieces)
        parts = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
        for i, part in enumerate(parts):
            opcode = (1 if isinstance(msg, str) else 2) if i == 0 else 0
            wire += client_frame(opcode, part, fin=i == len(parts) - 1, rsv=0x40 if i == 0 else 0)
    assert conn.receive_data(wire) == [WSMessage(m) for m in msgs]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=5000), min_size=1, max_size=5), st.sampled_from([9, 12, 15]))
def test_each_server_message_inflates_on_its_own_so_one_frame_serves_every_subscriber(
        msgs: list[bytes], bits: int) -> None:
    # server_no_context_takeover: a fresh inflater reads any frame, whatever came before.
    offer = "permessage-deflate" + (f"; server_max_window_bits={bits}" if bits != 15 else "")
    a, b = (ServerConnection(max_message_size=100, compression=True) for _ in range(2))
    for conn in (a, b):
        conn.accept(deflate_request(offer), subprotocol=None)
    assert a.encoding == b.encoding == f"ws+deflate/{bits}"
    for msg in msgs:
        frame = a.encode(msg)
        assert frame == b.encode(msg) == encode_ws_data(2, msg, a.encoding)
        [(b0, opcode, payload)] = server_frames(frame)
        assert opcode == 2
        if msg:
            assert b0 & 0x40
            assert zlib.decompressobj(-bits).decompress(payload + b"\x00\x00\xff\xff") == msg
        else:
            assert payload == b""


def test_a_window_of_8_is_accepted_and_answered_uncompressed() -> None:
    conn = ServerConnection(max_message_size=100, compression=True)
    conn.accept(deflate_request("permessage-deflate; server_max_window_bits=8"), subprotocol=None)
    assert conn.encoding == "ws"
    assert server_frames(conn.encode("hi")) == [(0x81, 1, b"hi")]


def test_a_compressed_message_inflating_past_the_limit_is_refused_with_1009() -> None:
    conn = ServerConnection(max_message_size=10_000, compression=True)
    conn.accept(deflate_request("permessage-deflate"), subprotocol=None)
    bomb, _ = client_compress(b"\x00" * 1_000_000)
    assert len(bomb) < 2000
    [event] = conn.receive_data(client_frame(0x2, bomb, rsv=0x40))
    assert isinstance(event, ProtocolViolation)
    assert event.code == CloseCode.MESSAGE_TOO_BIG


@pytest.mark.parametrize(("frames", "code"), [
    ([client_frame(0x1, b"a", fin=False), client_frame(0x0, b"b", rsv=0x40)], CloseCode.PROTOCOL_ERROR),
    ([client_frame(0x9, b"", rsv=0x40)], CloseCode.PROTOCOL_ERROR),
    ([client_frame(0x1, b"x", rsv=0x20)], CloseCode.PROTOCOL_ERROR),
    ([client_frame(0x2, b"\xff\xff\xff not deflate", rsv=0x40)], CloseCode.INVALID_DATA),
])
def test_rsv1_outside_a_compressed_messages_first_frame_is_a_protocol_error(frames: list[bytes],
                                                                           code: CloseCode) -> None:
    conn = ServerConnection(max_message_size=100, compression=True)
    conn.accept(deflate_request("permessage-deflate"), subprotocol=None)
    events = conn.receive_data(b"".join(frames))
    assert isinstance(events[-1], ProtocolViolation)
    assert events[-1].code == code


def test_negotiate_deflate_without_an_offer_is_none() -> None:
    assert negotiate_deflate([]) is None
    assert negotiate_deflate(["foo; bar"]) is None


def test_output_is_taken_up_to_an_event_so_pongs_keep_their_place_between_replies() -> None:
    # Autobahn 5.6-5.8, 5.19, 5.20 (autobahn/case/case5_*.py): a ping between the fragments of
    # a message, or between messages, is answered before what follows it is echoed.
    conn = opened()
    events = conn.receive_data(client_frame(0x9, b"1") + client_frame(0x1, b"a") + client_frame(0x9, b"2"))
    assert events == [PingFrame(b"1"), WSMessage("a"), PingFrame(b"2")]
    assert server_frames(conn.take_output(events[0])) == [(0x8A, 0xA, b"1")]
    assert server_frames(conn.take_output(events[2])) == [(0x8A, 0xA, b"2")]
    assert conn.take_output() == b""

"""Fuzzing the HTTP request path of a running endpoint: request lines, headers and bodies
built from the parts that matter (upgrade and long-poll routes, the WebSocket headers, framing
headers) mixed with garbage, and plain random bytes.

Every request is answered with a documented status, or the connection is closed; if it is
upgraded, any close frame carries a documented code. No ERROR is logged, the endpoint's tree
is untouched and a fresh client is served afterwards (``FuzzServer.assert_healthy``).

More examples: ``pytest tests/fuzz --fuzz-examples 20000`` (or ``FUZZ_EXAMPLES=20000``).
"""

from __future__ import annotations

from hypothesis import given, strategies as st

from ._support import (
    DOCUMENTED_STATUSES,
    FuzzServer,
    assert_documented_close,
    first_status,
    fuzz_settings,
    open_tcp,
    read_until_eof,
    send_quietly,
)

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
TOKEN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=':()<>@,;"/[]?={} \\'),
                min_size=1, max_size=12)
FIELD_BYTES = st.one_of(
    TEXT.map(lambda s: s.encode("utf-8")),
    st.binary(max_size=40),
    st.sampled_from([b"", b" ", b"\x00", b"\xff\xfe", b"\r", b"\n", "\u00e9x\u2603".encode()]),
)

METHODS = st.one_of(st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH",
                                     b"CONNECT", b"TRACE", b"get"]),
                    TOKEN.map(str.encode), st.binary(max_size=10))
PATHS = st.one_of(
    st.sampled_from([b"/", b"/socket/websocket", b"/socket/websocket?vsn=2.0.0", b"/socket/websocket?vsn=1.0.0",
                     b"/socket/websocket?vsn=9", b"/socket/websocket?vsn[]=2.0.0", b"/socket/longpoll",
                     b"/socket/longpoll?vsn=2.0.0", b"/socket/longpoll?vsn=2.0.0&token=x",
                     b"/socket/longpoll?vsn=2.0.0&token=SFMyNTY.g2gD", b"/socket", b"/nope", b"*",
                     b"http://127.0.0.1/socket/websocket", b"/socket/websocket?" + b"a=1&" * 200,
                     b"/%00", b"/%zz", b"//socket/websocket", b"/socket/../socket/websocket"]),
    st.builds(lambda p, q: b"/" + p + (b"?" + q if q else b""), st.binary(max_size=30), st.binary(max_size=30)),
)
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.x", b"",
                            b"http/1.1"])
HEADER_NAMES = st.one_of(
    st.sampled_from([b"host", b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version",
                     b"sec-websocket-protocol", b"sec-websocket-extensions", b"origin", b"content-length",
                     b"transfer-encoding", b"content-type", b"cookie", b"x-forwarded-for", b"user-agent",
                     b"expect"]),
    TOKEN.map(str.encode),
    st.binary(min_size=1, max_size=12),
)
GOOD_VALUES = {
    b"host": [b"127.0.0.1", b"localhost:4000", b"[::1]", b"evil.example"],
    b"upgrade": [b"websocket", b"WebSocket", b"websocket, h2c", b"h2c"],
    b"connection": [b"Upgrade", b"keep-alive, Upgrade", b"close"],
    b"sec-websocket-key": [b"dGhlIHNhbXBsZSBub25jZQ==", b"short", b"AAAAAAAAAAAAAAAAAAAAAA=="],
    b"sec-websocket-version": [b"13", b"8", b"14", b"x"],
    b"sec-websocket-protocol": [b"phoenix", b"phoenix, base64url.bearer.phx.eA", b",,", b"a b"],
    b"origin": [b"http://127.0.0.1", b"http://evil.example", b"null", b"::"],
    b"content-length": [b"0", b"5", b"-1", b"99999999999999999999", b"1, 2"],
    b"transfer-encoding": [b"chunked", b"gzip", b"chunked, chunked"],
    b"expect": [b"100-continue"],
}


@st.composite
def headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    out = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(HEADER_NAMES)
        good = GOOD_VALUES.get(name.lower())
        value = draw(st.sampled_from(good)) if good and draw(st.booleans()) else draw(FIELD_BYTES)
        out.append((name, value))
    return out


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r"]))
    line = b" ".join([draw(METHODS), draw(PATHS), draw(VERSIONS)])
    head = [line]
    if draw(st.integers(0, 3)):
        head.append(b"host: 127.0.0.1")
    if draw(st.booleans()):
        head += [b"upgrade: websocket", b"connection: upgrade", b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
                 b"sec-websocket-version: 13"]
    head += [name + draw(st.sampled_from([b": ", b":", b" : ", b"\t:"])) + value for name, value in draw(headers())]
    body = draw(st.one_of(st.just(b""), st.binary(max_size=200),
                          st.sampled_from([b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n",
                                           b'[null,"1","phoenix","heartbeat",{}]'])))
    return eol.join(head) + eol + eol + body


@fuzz_settings(800)
@given(data=requests())
def test_every_request_is_answered_with_a_documented_status_or_closed(fuzz_server: FuzzServer,
                                                                       data: bytes) -> None:
    fuzz_server.mark()
    with open_tcp(fuzz_server.port) as sock:
        send_quietly(sock, data)
        answer = read_until_eof(sock)
    status = first_status(answer)
    assert status is None or status in DOCUMENTED_STATUSES, f"{status} for {data!r}: {answer[:300]!r}"
    if status is None:
        # Closed without an answer: only for what is not a whole request head.
        assert not answer, f"an answer that is not HTTP for {data!r}: {answer[:300]!r}"
    if status == 101:
        assert_documented_close(answer.partition(b"\r\n\r\n")[2], data)
    fuzz_server.assert_healthy(data)


@fuzz_settings(100)
@given(data=requests(), cut=st.integers(1, 40))
def test_a_request_sent_in_pieces_is_treated_as_a_whole(fuzz_server: FuzzServer, data: bytes, cut: int) -> None:
    """The same requests dribbled in small writes (the parser sees every split point)."""
    fuzz_server.mark()
    with open_tcp(fuzz_server.port) as sock:
        try:
            for i in range(0, len(data), cut):
                sock.sendall(data[i:i + cut])
        except (BrokenPipeError, ConnectionResetError):
            pass
        send_quietly(sock, b"")
        answer = read_until_eof(sock)
    status = first_status(answer)
    assert status is None or status in DOCUMENTED_STATUSES, f"{status} for {data!r}: {answer[:300]!r}"
    fuzz_server.assert_healthy(data)


VALID_UPGRADE = [
    (b"host", b"127.0.0.1"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
]


@st.composite
def upgrades(draw: st.DrawFn) -> bytes:
    """A valid WebSocket upgrade with a few things changed: a header's value replaced (by a
    plausible value or by bytes), a header dropped or added, a body with its length."""
    target = draw(st.sampled_from([b"/socket/websocket?vsn=2.0.0", b"/socket/websocket", b"/socket/longpoll"]))
    fields = list(VALID_UPGRADE)
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["replace", "drop", "add", "body"]))
        if what == "replace":
            i = draw(st.integers(0, len(fields) - 1))
            name = fields[i][0]
            good = GOOD_VALUES.get(name, [])
            fields[i] = (name, draw(st.sampled_from(good)) if good and draw(st.booleans()) else draw(FIELD_BYTES))
        elif what == "drop" and fields:
            fields.pop(draw(st.integers(0, len(fields) - 1)))
        elif what == "add":
            fields.extend(draw(headers()))
        else:
            body = draw(st.binary(min_size=1, max_size=64))
            fields.append((b"content-length", str(len(body)).encode()))
            target += b"#" + body  # carried to the end below
    body = b""
    if b"#" in target:
        target, _, body = target.partition(b"#")
    head = b"GET " + target + b" HTTP/1.1\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in fields)
    return head + b"\r\n" + body


@fuzz_settings(300)
@given(data=upgrades())
def test_an_upgrade_with_something_wrong_is_refused_with_a_documented_status(fuzz_server: FuzzServer,
                                                                             data: bytes) -> None:
    fuzz_server.mark()
    with open_tcp(fuzz_server.port) as sock:
        send_quietly(sock, data)
        answer = read_until_eof(sock)
    status = first_status(answer)
    assert status is None or status in DOCUMENTED_STATUSES, f"{status} for {data!r}: {answer[:300]!r}"
    assert answer or not data.endswith(b"\r\n\r\n"), f"a whole request head got no answer: {data!r}"
    if status == 101:
        assert_documented_close(answer.partition(b"\r\n\r\n")[2], data)
    fuzz_server.assert_healthy(data)

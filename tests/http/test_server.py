"""serve_http over real TCP sockets: keep-alive, pipelining, limits, errors, timeouts, upgrade."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing
import trio_websocket

from channels.http import (
    BodyReader,
    HTTPLimits,
    Request,
    Response,
    Upgrade,
    UpgradeError,
    serve_http,
)

from ._support import RawClient, get, http_server


async def echo_path(request: Request, body: BodyReader) -> Response:
    data = await body.read()
    text = f"{request.method} {request.path} {len(data)}".encode()
    return Response(200, [("content-type", "text/plain")], text)


async def test_keep_alive_serves_three_requests_on_one_connection() -> None:
    peers: list[tuple[str, int] | None] = []

    async def handler(request: Request, body: BodyReader) -> Response:
        peers.append(request.peer)
        return await echo_path(request, body)

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            for n in range(3):
                await client.send(get(f"/r{n}"))
                response = await client.read_response()
                assert response.status == 200
                assert response.body == f"GET /r{n} 0".encode()
                assert response.header("connection") is None
                assert response.header("content-length") == str(len(response.body))
                assert response.header("date")
            await client.aclose()
    assert len(peers) == 3
    assert len(set(peers)) == 1
    assert peers[0] is not None
    assert peers[0][0] == "127.0.0.1"


async def test_pipelined_requests_are_answered_in_order() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            post = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            await client.send(get("/a") + post + get("/c"))
            bodies = [(await client.read_response()).body for _ in range(3)]
            assert bodies == [b"GET /a 0", b"POST /b 5", b"GET /c 0"]
            await client.aclose()


async def test_request_close_header_closes_after_the_response() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(get("/x", "Connection: close"))
            response = await client.read_response()
            assert response.status == 200
            assert response.header("connection") == "close"
            await client.assert_closed()


async def test_http_1_0_request_is_answered_then_closed() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(b"GET /old HTTP/1.0\r\n\r\n")
            response = await client.read_response()
            assert response.body == b"GET /old 0"
            await client.assert_closed()


async def test_handler_connection_close_header_is_honoured() -> None:
    async def handler(request: Request, body: BodyReader) -> Response:
        return Response(200, [("connection", "close")], b"bye")

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(get("/"))
            assert (await client.read_response()).body == b"bye"
            await client.assert_closed()


async def test_garbage_gets_400_and_close_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="channels.http")
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(b"\x16\x03\x01 this is not http\r\n\r\n")
            response = await client.read_response()
            assert response.status == 400
            assert response.header("connection") == "close"
            await client.assert_closed()
    records = [r for r in caplog.records if r.name == "channels.http"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert "127.0.0.1" in records[0].getMessage()
    assert "400" in records[0].getMessage()


async def test_bad_percent_encoding_gets_400() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(get("/%ff%fe"))
            assert (await client.read_response()).status == 400
            await client.assert_closed()


async def test_too_many_headers_gets_431_and_close() -> None:
    extra = [f"X-H{n}: v" for n in range(11)]
    with trio.fail_after(5):
        async with http_server(echo_path, HTTPLimits(max_header_count=10)) as port:
            client = await RawClient.connect(port)
            await client.send(get("/", *extra))
            assert (await client.read_response()).status == 431
            await client.assert_closed()


async def test_too_large_header_block_gets_431_and_close() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path, HTTPLimits(max_header_bytes=1024)) as port:
            client = await RawClient.connect(port)
            await client.send(get("/", "X-Big: " + "a" * 4096))
            assert (await client.read_response()).status == 431
            await client.assert_closed()


async def test_declared_body_over_limit_gets_413_and_close() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path, HTTPLimits(max_body_bytes=100)) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"a" * 200)
            response = await client.read_response()
            assert response.status == 413
            assert response.header("connection") == "close"
            await client.assert_closed()


async def test_chunked_body_over_limit_gets_413() -> None:
    chunk = b"40\r\n" + b"a" * 64 + b"\r\n"
    with trio.fail_after(5):
        async with http_server(echo_path, HTTPLimits(max_body_bytes=100)) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2)
            assert (await client.read_response()).status == 413
            await client.assert_closed()


async def test_body_read_with_explicit_max_bytes_raises_request_body_too_large() -> None:
    seen: list[BaseException] = []

    async def handler(request: Request, body: BodyReader) -> Response:
        try:
            await body.read(max_bytes=3)
        except Exception as exc:
            seen.append(exc)
            return Response(422, [], b"too big")
        return Response(200)

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd")
            assert (await client.read_response()).status == 422
            # The declared body was small enough to drain, so keep-alive survives.
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            assert (await client.read_response()).status == 200
            await client.aclose()
    assert type(seen[0]).__name__ == "RequestBodyTooLarge"
    assert "limit is 3 bytes" in str(seen[0])


async def test_unsupported_transfer_encoding_gets_501() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
            assert (await client.read_response()).status == 501
            await client.assert_closed()


async def test_malformed_chunked_body_gets_400() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"
            )
            assert (await client.read_response()).status == 400
            await client.assert_closed()


async def test_unread_small_body_is_drained_and_the_connection_reused() -> None:
    async def handler(request: Request, body: BodyReader) -> Response:
        return Response(200, [], request.path.encode())

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            assert (await client.read_response()).body == b"/one"
            await client.send(get("/two"))
            assert (await client.read_response()).body == b"/two"
            await client.aclose()


async def test_expect_100_continue_gets_interim_response_when_body_is_read() -> None:
    with trio.fail_after(5):
        async with http_server(echo_path) as port:
            client = await RawClient.connect(port)
            await client.send(
                b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
            )
            interim = await client.read_response()
            assert interim.status == 100
            await client.send(b"abc")
            assert (await client.read_response()).body == b"POST /e 3"
            await client.aclose()


async def test_head_request_gets_content_length_but_no_body() -> None:
    async def handler(request: Request, body: BodyReader) -> Response:
        return Response(200, [("content-type", "text/plain")], b"twelve bytes")

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(get("/", method="HEAD") + get("/"))
            head = await client.read_response(head=True)
            assert head.header("content-length") == "12"
            assert head.body == b""
            assert (await client.read_response()).body == b"twelve bytes"
            await client.aclose()


async def test_idle_keep_alive_connection_is_closed_after_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = HTTPLimits(keep_alive_timeout=60)
    with trio.fail_after(200):
        async with http_server(echo_path, limits) as port:
            client = await RawClient.connect(port)
            await client.send(get("/"))
            assert (await client.read_response()).status == 200
            before = trio.current_time()
            await client.assert_closed()
            assert trio.current_time() - before == pytest.approx(60)


async def test_connection_that_never_sends_is_closed_after_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(200):
        async with http_server(echo_path, HTTPLimits(keep_alive_timeout=5)) as port:
            client = await RawClient.connect(port)
            await client.assert_closed()
            assert trio.current_time() == pytest.approx(5)


async def test_partial_request_head_times_out_with_408(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(200):
        async with http_server(echo_path, HTTPLimits(keep_alive_timeout=10)) as port:
            client = await RawClient.connect(port)
            await client.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
            assert (await client.read_response()).status == 408
            await client.assert_closed()


async def test_stalled_body_gets_408(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(200):
        async with http_server(echo_path, HTTPLimits(keep_alive_timeout=10)) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            assert (await client.read_response()).status == 408
            await client.assert_closed()


async def test_request_carries_parsed_target_headers_and_addresses() -> None:
    seen: list[Request] = []

    async def handler(request: Request, body: BodyReader) -> Response:
        seen.append(request)
        return Response(204)

    target = "/socket/a%20b/websocket?token=user&vsn=2.0.0&token=lp"
    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(get(target, "X-Trace: 1", "X-Trace: 2", host=f"example.com:{port}"))
            response = await client.read_response()
            assert response.status == 204
            assert response.header("content-length") is None
            await client.aclose()
    (request,) = seen
    assert request.method == "GET"
    assert request.target == target
    assert request.path == "/socket/a b/websocket"
    assert request.query_string == "token=user&vsn=2.0.0&token=lp"
    assert request.query_params == (("token", "user"), ("vsn", "2.0.0"), ("token", "lp"))
    assert request.query_dict()["token"] == "lp"
    assert request.header("x-trace") == "1"
    assert request.header_values("X-Trace") == ["1", "2"]
    assert request.http_version == "1.1"
    assert request.keep_alive
    assert request.scheme == "http"
    assert request.host == "example.com"
    assert request.port == port
    assert request.local == ("127.0.0.1", port)
    assert request.peer is not None
    assert request.peer[0] == "127.0.0.1"


async def test_handler_exception_gets_500_and_propagates_out_of_serve_http() -> None:
    async def handler(request: Request, body: BodyReader) -> Response:
        raise ZeroDivisionError("handler bug")

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            client_result: list[int] = []

            async def client_side() -> None:
                client = await RawClient.connect(port)
                await client.send(get("/"))
                client_result.append((await client.read_response()).status)
                await client.assert_closed()

            nursery.start_soon(client_side)
            stream = await listeners[0].accept()
            with pytest.raises(ZeroDivisionError, match="handler bug"):
                await serve_http(stream, handler)
    assert client_result == [500]
    await listeners[0].aclose()


async def test_upgrade_without_take_over_is_a_handler_bug() -> None:
    async def handler(request: Request, body: BodyReader) -> Upgrade:
        return Upgrade()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:

            async def client_side() -> None:
                client = await RawClient.connect(port)
                await client.send(get("/"))
                assert (await client.read_response()).status == 500
                await client.assert_closed()

            nursery.start_soon(client_side)
            stream = await listeners[0].accept()
            with pytest.raises(UpgradeError, match="take_over"):
                await serve_http(stream, handler)
    await listeners[0].aclose()


async def ws_echo_handler(request: Request, body: BodyReader) -> Response | Upgrade:
    if request.path != "/socket/websocket":
        return await echo_path(request, body)
    async with body.take_over() as stream, trio.open_nursery() as nursery:
        ws_request = await trio_websocket.wrap_server_stream(nursery, stream)
        assert ws_request.path == request.target
        ws = await ws_request.accept(subprotocol="phoenix")
        while True:
            try:
                message = await ws.get_message()
            except trio_websocket.ConnectionClosed:
                break
            assert isinstance(message, str)
            await ws.send_message(f"echo:{message}")
    return Upgrade()


async def test_upgrade_hands_the_stream_to_trio_websocket_which_echoes() -> None:
    with trio.fail_after(5):
        async with http_server(ws_echo_handler) as port:
            url = f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0"
            async with trio_websocket.open_websocket_url(url, subprotocols=["phoenix"]) as ws:
                assert ws.subprotocol == "phoenix"
                await ws.send_message("hello")
                assert await ws.get_message() == "echo:hello"
                await ws.send_message("again")
                assert await ws.get_message() == "echo:again"


async def test_take_over_replays_the_request_head_and_bytes_sent_after_it() -> None:
    # Note: wsproto's server handshake drops bytes that follow the upgrade request,
    # so this is checked on the raw taken-over stream.
    head = b"GET /Socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"
    replayed: list[bytes] = []

    async def handler(request: Request, body: BodyReader) -> Response | Upgrade:
        if request.path == "/plain":
            return Response(200, [], b"plain")
        async with body.take_over() as stream:
            data = b""
            while not data.endswith(b"EXTRA"):
                data += await stream.receive_some(7)
            replayed.append(data)
            await stream.send_all(b"raw bytes from the new owner")
        return Upgrade()

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(get("/plain"))
            assert (await client.read_response()).body == b"plain"
            await client.send(head + b"EXTRA")
            while await client._fill():
                pass
            assert bytes(client.buffer) == b"raw bytes from the new owner"
            await client.aclose()
    assert replayed == [head + b"EXTRA"]


async def test_take_over_refuses_a_request_with_a_body() -> None:
    errors: list[Exception] = []

    async def handler(request: Request, body: BodyReader) -> Response:
        try:
            body.take_over()
        except UpgradeError as exc:
            errors.append(exc)
        return Response(400)

    with trio.fail_after(5):
        async with http_server(handler) as port:
            client = await RawClient.connect(port)
            await client.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
            assert (await client.read_response()).status == 400
            await client.aclose()
    assert "must not have a body" in str(errors[0])


async def echo_body(request: Request, body: BodyReader) -> Response:
    return Response(200, [("content-type", "application/octet-stream")], await body.read())


async def test_a_body_trickling_in_gets_408_at_the_total_body_deadline(
        autojump_clock: trio.testing.MockClock) -> None:
    # Issue 14 item 6: one byte every 5 s kept a connection for ever (only each chunk was timed).
    limits = HTTPLimits(keep_alive_timeout=10, body_timeout=30)
    with trio.fail_after(200):
        async with http_server(echo_body, limits) as port:
            client = await RawClient.connect(port)
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            start = trio.current_time()

            async def trickle() -> None:
                for _ in range(20):  # 100 s at one byte per 5 s, never finishing the body
                    await client.send(b"x")
                    await trio.sleep(5)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(trickle)
                status = (await client.read_response()).status
                answered = trio.current_time() - start
                nursery.cancel_scope.cancel()
            await client.aclose()
            assert status == 408
            assert 30 <= answered < 35


async def test_a_body_that_arrives_in_time_is_read_whole_and_the_next_request_has_its_own_deadline(
        autojump_clock: trio.testing.MockClock) -> None:
    limits = HTTPLimits(keep_alive_timeout=20, body_timeout=40)
    async with http_server(echo_body, limits) as port:
        client = await RawClient.connect(port)
        for _ in range(2):  # 30 s per body: 60 s in all, more than one body's 40 s
            await client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\na")
            await trio.sleep(15)
            await client.send(b"b")
            await trio.sleep(15)
            await client.send(b"cd")
            response = await client.read_response()
            assert (response.status, response.body) == (200, b"abcd")
        await client.aclose()

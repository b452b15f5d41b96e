"""ASGI 3 apps on the endpoint (issue 16), over real sockets: FastAPI on Trio through anyio,
streamed bodies both ways, lifespan tied to start and drain, and bad apps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

import channels
import otp
from channels import testing
from channels.client import open_socket
from examples import asgi as example

from ._http import HTTPConnection, request

Scope = dict[str, Any]


def endpoint_with(app: Any, **options: Any) -> channels.Endpoint:
    return channels.Endpoint(name="Asgi.Test.Endpoint", port=0, check_origin=False, asgi_app=app,
                             sockets=[channels.SocketMount("/socket", example.UserSocket)], **options)


@pytest.fixture
async def fastapi_ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    async with testing.open_endpoint(example.make_endpoint(port=0)) as running:
        yield running


async def test_fastapi_handler_broadcasts_to_a_channel_client_on_the_same_port(
        fastapi_ep: testing.RunningEndpoint) -> None:
    port = fastapi_ep.port
    health = await request(port, "GET", "/api/health")
    assert (health.status, health.header("content-type")) == (200, "application/json")
    assert health.body == b'{"ok":true,"endpoint":"Asgi.Endpoint"}'
    async with open_socket(f"ws://127.0.0.1:{port}/socket") as socket:
        lobby = socket.channel("room:lobby")
        await lobby.join()
        posted = await request(port, "POST", "/api/rooms/lobby/messages", [("content-type", "application/json")],
                               b'{"user": "api", "body": "hello"}')
        assert (posted.status, posted.body) == (202, b'{"sent":true,"topic":"room:lobby"}')
        msg = await lobby.receive(timeout=5)
        assert (msg.event, msg.payload, msg.ref) == ("new_msg", {"user": "api", "body": "hello"}, None)
    invalid = await request(port, "POST", "/api/rooms/lobby/messages", [("content-type", "application/json")],
                            b'{"user": 1}')
    assert invalid.status == 422  # FastAPI's own validation, unchanged
    assert (await request(port, "GET", "/nowhere")).status == 404  # FastAPI's 404


async def test_request_body_is_streamed_to_receive_as_it_arrives(node: otp.Node) -> None:
    seen: list[tuple[bytes, bool]] = []
    got_first = trio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        while True:
            message = await receive()
            seen.append((message["body"], message["more_body"]))
            got_first.set()
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"%d parts" % len(seen)})

    async with testing.open_endpoint(endpoint_with(app)) as ep:
        conn = await HTTPConnection.open(ep.port)
        await conn.start_request("POST", "/upload", chunked=True)
        await conn.send_body(b"first")
        await got_first.wait()  # the app had the first part before the second was sent
        assert seen == [(b"first", True)]
        await conn.send_body(b"second")
        await conn.end_request()
        response = await conn.response()
        await conn.aclose()
    assert response.body == b"3 parts"
    assert seen == [(b"first", True), (b"second", True), (b"", False)]


async def test_response_body_is_streamed_part_by_part(node: otp.Node) -> None:
    go_on = trio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"stream")]})
        await send({"type": "http.response.body", "body": b"part 1;", "more_body": True})
        await go_on.wait()
        await send({"type": "http.response.body", "body": b"part 2", "more_body": False})

    async with testing.open_endpoint(endpoint_with(app)) as ep:
        conn = await HTTPConnection.open(ep.port)
        await conn.start_request("GET", "/stream")
        await conn.end_request()
        head = await conn.head()
        assert (head.status, head.header("x-app"), head.header("transfer-encoding")) == (200, "stream", "chunked")
        chunks = conn.body_chunks()
        assert await chunks.__anext__() == b"part 1;"  # while the app still waits
        go_on.set()
        assert [c async for c in chunks] == [b"part 2"]
        # keep-alive: the same connection serves the next request
        conn.conn.start_next_cycle()
        go_on = trio.Event()
        go_on.set()
        again = await conn.request("GET", "/stream")
        assert again.body == b"part 1;part 2"
        await conn.aclose()


async def test_scope_is_asgi_3_http_with_lifespan_state(node: otp.Node) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            assert (await receive())["type"] == "lifespan.startup"
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async with testing.open_endpoint(endpoint_with(app)) as ep:
        response = await request(ep.port, "GET", "/a%20b/c?x=1&y=%20", [("X-Custom", "v")])
        assert response.status == 204
    scope = scopes[0]
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert (scope["type"], scope["method"], scope["http_version"], scope["scheme"]) == ("http", "GET", "1.1", "http")
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == ("/a b/c", b"/a%20b/c", b"x=1&y=%20")
    assert (b"x-custom", b"v") in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", ep.port]
    assert scope["state"] == {"db": "connected"}


async def test_lifespan_starts_before_listening_and_shuts_down_after_the_drain(node: otp.Node) -> None:
    record: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            record.append(f"startup listener={otp.whereis('Asgi.Test.Endpoint.Listener') is not None}")
            await send({"type": "lifespan.startup.complete"})
            await receive()
            record.append(f"shutdown listener={otp.whereis('Asgi.Test.Endpoint.Listener') is not None}")
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async with testing.open_endpoint(endpoint_with(app)) as ep:
        record.append("listening")
        client = await testing.connect(ep, "/socket")
        assert (await client.join("room:a"))[0] == "ok"
        await ep.stop()
        await client.assert_closed(1012)  # drained ...
        record.append("stopped")
    # ... before the app's shutdown, which ran after the listener had stopped.
    assert record == ["startup listener=False", "listening", "shutdown listener=False", "stopped"]


async def test_lifespan_startup_failure_fails_the_endpoint_start(node: otp.Node) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    endpoint = endpoint_with(app)
    with pytest.raises(BaseException, match="no database"):
        await endpoint.start_link()
    await trio.testing.wait_all_tasks_blocked()
    assert otp.whereis("Asgi.Test.Endpoint") is None


async def test_app_without_lifespan_support_is_served_without_it(node: otp.Node,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "only http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    with caplog.at_level(logging.INFO, logger="channels.asgi"):
        async with testing.open_endpoint(endpoint_with(app)) as ep:
            assert (await request(ep.port, "GET", "/")).body == b"plain"
    assert any("does not support lifespan" in r.getMessage() for r in caplog.records)


def _bad_app(kind: str) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/ok":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"fine"})
            return
        match kind:
            case "raises":
                raise ValueError("handler bug")
            case "never_responds":
                await trio.sleep_forever()
            case "body_before_start":
                await send({"type": "http.response.body", "body": b"oops"})
            case "returns_without_response":
                return
            case "bad_message":
                await send({"type": "websocket.accept"})

    return app


@pytest.mark.parametrize("kind", ["raises", "never_responds", "body_before_start", "returns_without_response",
                                  "bad_message"])
async def test_bad_app_gets_a_500_logged_once_and_the_endpoint_carries_on(
        node: otp.Node, kind: str, caplog: pytest.LogCaptureFixture, autojump_clock: trio.testing.MockClock) -> None:
    async with testing.open_endpoint(endpoint_with(_bad_app(kind), asgi_response_timeout=5.0)) as ep:
        with caplog.at_level(logging.ERROR):
            response = await request(ep.port, "GET", "/bad")
        assert response.status == 500
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert errors[0].name == "channels.asgi"
        assert "GET /bad" in errors[0].getMessage()
        assert (await request(ep.port, "GET", "/ok")).body == b"fine"


async def test_app_failing_after_its_head_closes_the_connection(node: otp.Node,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await send({"type": "http.response.start", "status": 200, "headers": []})  # out of order

    async with testing.open_endpoint(endpoint_with(app)) as ep:
        conn = await HTTPConnection.open(ep.port)
        await conn.start_request("GET", "/")
        await conn.end_request()
        head = await conn.head()
        assert head.status == 200
        await conn.assert_closed()  # the client sees an incomplete response, not a wrong one
        await conn.aclose()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "sent twice" in errors[0].getMessage()


async def test_sockets_and_static_files_take_precedence_over_the_app(node: otp.Node, tmp_path: Any) -> None:
    (tmp_path / "page.html").write_text("static")
    calls: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async with testing.open_endpoint(endpoint_with(app, static_dir=tmp_path)) as ep:
        assert (await request(ep.port, "GET", "/page.html")).body == b"static"
        client = await testing.connect(ep, "/socket")
        assert (await client.join("room:a"))[0] == "ok"
        assert (await request(ep.port, "GET", "/other")).body == b"app"
    assert calls == ["/other"]

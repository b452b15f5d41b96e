"""The README's code examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import otp
from channels import testing

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def example(heading: str) -> str:
    section = README.split(f"## {heading}", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, heading
    return match.group(1)


async def test_the_first_channel_example_joins_broadcasts_and_replies(node: otp.Node) -> None:
    module = types.ModuleType("readme_first_channel")
    exec(compile(example("A first channel in 20 lines"), "README.md", "exec"), module.__dict__)
    endpoint = module.endpoint
    endpoint.requested_port = 0
    async with testing.open_endpoint(endpoint) as ep:
        client = await testing.connect(ep, "/socket")
        assert await client.join("room:lobby", {"user": "ann"}) == ("ok", {})
        await client.push("room:lobby", "new_msg", {"body": "hi"})
        await client.assert_broadcast("room:lobby", "new_msg", {"body": "hi", "user": "ann"})
        ref = await client.push("room:lobby", "other", {"a": 1})
        await client.assert_reply(ref, "ok", {"echo": {"a": 1}})
        assert (await client.join("room:secret", {}))[0] == "error"


def test_the_runtime_example_runs_and_restarts_the_killed_counter(tmp_path: Path) -> None:
    script = tmp_path / "runtime_example.py"
    script.write_text(example("The actor runtime in 20 lines"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "1"
    assert any("counter" in line and "Counter" in line for line in lines[1:])


async def test_the_compression_example_negotiates_permessage_deflate(node: otp.Node) -> None:
    import trio

    module = types.ModuleType("readme_compression")
    exec(compile(example("WebSocket compression"), "README.md", "exec"), module.__dict__)
    endpoint = module.endpoint
    endpoint.requested_port = 0
    async with testing.open_endpoint(endpoint) as ep:
        stream = await trio.open_tcp_stream("127.0.0.1", ep.port)
        async with stream:
            await stream.send_all(
                b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\n"
                b"connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"sec-websocket-version: 13\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive_some(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"sec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n" in head


async def test_the_extending_example_serves_raw_transports_error_handler_paths_and_routes(node: otp.Node) -> None:
    from tests.conformance._wire import Control, M, Rejected, Text, WebsocketClient, http_request

    module = types.ModuleType("readme_extending")
    exec(compile(example("Raw transports, control frames and custom HTTP routes"), "README.md", "exec"),
         module.__dict__)
    endpoint = module.endpoint
    endpoint.requested_port = 0
    async with testing.open_endpoint(endpoint) as ep:
        # the raw transport: echo, a ping from the server, the client's control frames
        echo = await WebsocketClient.connect(ep.nursery, ep.port, "/echo/websocket", None)
        await echo.send("hello")
        await echo.assert_receive(Text("hello"))
        await echo.send("ping me")
        await echo.assert_receive(Control("ping", b"still there?"))
        await echo.assert_receive(Text("pong:still there?"))
        await echo.send(Control("ping", b"1"))
        await echo.assert_receive(Control("pong", b"1"))
        await echo.assert_receive(Text("ping:1"))
        # ... and over long-poll
        opened = (await http_request(ep.port, "GET", "/echo/longpoll")).json()
        assert opened["status"] == 410
        token = {"x-phoenix-longpoll-token": opened["token"], "content-type": "application/json"}
        assert (await http_request(ep.port, "POST", "/echo/longpoll", token, b"hello")).json()["status"] == 200
        assert (await http_request(ep.port, "GET", "/echo/longpoll", token)).json()["messages"] == ["hello"]
        # the path with :vars, and the error_handler
        room = await WebsocketClient.connect(ep.nursery, ep.port, "/t/acme/lobby/ws?vsn=2.0.0", "2.0.0")
        await room.send_heartbeat()
        await room.assert_receive(M(topic="phoenix", event="phx_reply", payload={"status": "ok", "response": {}}))
        with pytest.raises(Rejected) as refused:
            await WebsocketClient.connect(ep.nursery, ep.port, "/t/flooding/lobby/ws?vsn=2.0.0", "2.0.0")
        assert (refused.value.status_code, refused.value.body) == (429, b"Too many requests")
        # the routes
        health = await http_request(ep.port, "GET", "/healthz")
        assert (health.status, health.json()) == (200, {"status": "ok"})
        assert (await http_request(ep.port, "POST", "/healthz")).status == 405
        async with otp.open_mailbox():
            ep.endpoint.subscribe("room:lobby")
            hook = await http_request(ep.port, "POST", "/hooks/messages", {"content-type": "application/json"},
                                      b'{"room": "lobby", "body": "hi"}')
            assert hook.status == 204
            got = await otp.receive(lambda m: getattr(m, "event", None) == "new_msg", timeout=5)
            assert got.payload == {"body": "hi"}
        await echo.close()
        await room.close()

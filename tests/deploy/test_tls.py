"""TLS: Endpoint(ssl=...) serves https and wss itself, ALPN http/1.1, connect_info says the scheme.

Certificates come from a throwaway CA made in the test (trustme); clients are real: trio's
SSLStream with an h11 request, and trio-websocket over wss:// (a V2 join, a reply, a clean close).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
import trio_websocket
import trustme

import channels
import otp
from channels import testing
from channels.http._tls import server_context

_seen: list[Any] = []


class EchoChannel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> Any:
        return channels.Accept(socket, {"scheme": socket.assigns["scheme"]})

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> Any:
        return channels.Reply(("ok", {"echo": payload}), socket)


class TLSSocket(channels.Socket):
    routes = [("echo:*", EchoChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Any:
        _seen.append(connect_info)
        return channels.Accept(self.assign(scheme=connect_info["uri"].scheme))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def cert_files(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_path))
    return cert_path, key_path


def _client_context(ca: trustme.CA, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _endpoint(tls: Any) -> channels.Endpoint:
    return channels.Endpoint(name="TLS.Endpoint", check_origin=False, ssl=tls,
                             sockets=[channels.SocketMount("/socket", TLSSocket, longpoll=True)])


async def test_wss_join_and_reply_with_cert_and_key_paths_and_connect_info_says_https(
        node: otp.Node, ca: trustme.CA, cert_files: tuple[Path, Path]) -> None:
    _seen.clear()
    async with testing.open_endpoint(_endpoint(cert_files)) as ep:
        url = f"wss://127.0.0.1:{ep.port}/socket/websocket?vsn=2.0.0"
        async with trio_websocket.open_websocket_url(url, ssl_context=_client_context(ca)) as ws:
            await ws.send_message(json.dumps(["1", "1", "echo:1", "phx_join", {}]))
            assert json.loads(await ws.get_message()) == [
                "1", "1", "echo:1", "phx_reply", {"status": "ok", "response": {"scheme": "https"}}]
            await ws.send_message(json.dumps(["1", "2", "echo:1", "hi", {"n": 1}]))
            assert json.loads(await ws.get_message()) == [
                "1", "2", "echo:1", "phx_reply", {"status": "ok", "response": {"echo": {"n": 1}}}]
    (info,) = _seen
    assert info["uri"].scheme == "https"


async def test_alpn_selects_http11_when_the_client_offers_h2_first(
        node: otp.Node, ca: trustme.CA, cert_files: tuple[Path, Path]) -> None:
    async with testing.open_endpoint(_endpoint(cert_files)) as ep:
        stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", ep.port,
                                                     ssl_context=_client_context(ca, ["h2", "http/1.1"]),
                                                     https_compatible=True)
        async with stream:
            await stream.send_all(b"GET /socket/longpoll?vsn=2.0.0 HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                                  b"connection: close\r\n\r\n")
            data = b""
            while chunk := await stream.receive_some():
                data += chunk
            assert stream.selected_alpn_protocol() == "http/1.1"
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body)["status"] == 410


async def test_a_given_ssl_context_is_used_with_alpn_set(
        node: otp.Node, ca: trustme.CA) -> None:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    assert server_context(ctx) is ctx
    async with testing.open_endpoint(_endpoint(ctx)) as ep:
        stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", ep.port,
                                                     ssl_context=_client_context(ca, ["http/1.1"]))
        async with stream:
            await stream.do_handshake()
            assert stream.selected_alpn_protocol() == "http/1.1"


async def test_a_plain_http_client_on_the_tls_port_is_dropped_and_others_carry_on(
        node: otp.Node, ca: trustme.CA, cert_files: tuple[Path, Path]) -> None:
    async with testing.open_endpoint(_endpoint(cert_files)) as ep:
        plain = await trio.open_tcp_stream("127.0.0.1", ep.port)
        async with plain:
            await plain.send_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            with trio.fail_after(10):
                while await plain.receive_some():
                    pass
        url = f"wss://127.0.0.1:{ep.port}/socket/websocket?vsn=2.0.0"
        async with trio_websocket.open_websocket_url(url, ssl_context=_client_context(ca)) as ws:
            await ws.send_message(json.dumps(["1", "1", "echo:1", "phx_join", {}]))
            assert json.loads(await ws.get_message())[4]["status"] == "ok"


def test_bad_ssl_options_say_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"expects an ssl\.SSLContext or a"):
        server_context("cert.pem")
    with pytest.raises(ValueError, match="cannot load the TLS certificate"):
        server_context((tmp_path / "missing.pem", tmp_path / "missing.key"))


class EchoTransport(channels.Transport):
    """A raw WebSocket transport: echoes each text frame back, upper-cased."""

    async def handle_in(self, data: str | bytes, state: Any) -> Any:
        return otp.Reply(data.upper() if isinstance(data, str) else data, state)


async def test_a_raw_transport_over_wss_echoes_and_closes_cleanly(
        node: otp.Node, ca: trustme.CA, cert_files: tuple[Path, Path]) -> None:
    endpoint = channels.Endpoint(name="TLS.Raw", check_origin=False, ssl=cert_files,
                                 sockets=[channels.SocketMount("/raw", EchoTransport)])
    async with testing.open_endpoint(endpoint) as ep:
        url = f"wss://127.0.0.1:{ep.port}/raw/websocket"
        async with trio_websocket.open_websocket_url(url, ssl_context=_client_context(ca)) as ws:
            for word in ("hello", "over", "tls"):
                await ws.send_message(word)
                assert await ws.get_message() == word.upper()
            await ws.aclose(1000, "bye")
            assert ws.closed is not None
            assert ws.closed.code == 1000


async def test_draining_over_tls_reaches_the_client_as_1012(
        node: otp.Node, ca: trustme.CA, cert_files: tuple[Path, Path]) -> None:
    async with testing.open_endpoint(_endpoint(cert_files)) as ep:
        # trio-websocket leaves its stream open when the server closes: own it, close it here.
        stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", ep.port, ssl_context=_client_context(ca),
                                                     https_compatible=True)
        try:
            async with trio.open_nursery() as nursery:
                ws = await trio_websocket.wrap_client_stream(nursery, stream, "127.0.0.1",
                                                             "/socket/websocket?vsn=2.0.0")
                await ws.send_message(json.dumps(["1", "1", "echo:1", "phx_join", {}]))
                assert json.loads(await ws.get_message())[4]["status"] == "ok"
                nursery.start_soon(ep.stop)
                with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason.code == 1012
                await ws.aclose()
        finally:
            await trio.aclose_forcefully(stream)

"""Endpoint(metrics=True): /metrics in the Prometheus text format, scraped over a real socket.

The counters come from channels.telemetry events, the rest from statistics read at scrape time;
with metrics off nothing is attached (the message path pays one dict truth test).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio
from prometheus_client.parser import text_string_to_metric_families

import channels
import otp
from channels import telemetry, testing


class RoomChannel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> Any:
        if topic == "room:closed":
            return channels.Refuse({"reason": "closed"})
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> Any:
        if event == "shout":
            socket.broadcast("shout", payload)
            return channels.NoReply(socket)
        if event == "push_me":
            socket.push("pushed", payload)
            return channels.NoReply(socket)
        return channels.Reply(("ok", payload), socket)


class RoomSocket(channels.Socket):
    routes = [("room:*", RoomChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Any:
        if params.get("token") == "bad":
            return channels.Refuse()
        return channels.Accept(self)


def _endpoint(*, metrics: bool) -> channels.Endpoint:
    return channels.Endpoint(name="Metrics.Endpoint", check_origin=False, metrics=metrics,
                             sockets=[channels.SocketMount("/socket", RoomSocket)])


async def _get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n".encode())
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body.decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_scrape_counts_connections_joins_messages_broadcasts_and_latency(node: otp.Node) -> None:
    async with testing.open_endpoint(_endpoint(metrics=True)) as ep:
        a = await testing.connect(ep, "/socket")
        b = await testing.connect(ep, "/socket")
        assert (await a.join("room:1")) == ("ok", {})
        assert (await b.join("room:1")) == ("ok", {})
        assert (await a.join("room:closed"))[0] == "error"
        for n in range(3):
            ref = await a.push("room:1", "echo", {"n": n})
            await a.assert_reply(ref, "ok", {"n": n})
        await a.push("room:1", "push_me", {"x": 1})
        await a.assert_push("room:1", "pushed", {"x": 1})
        await a.push("room:1", "shout", {"hi": 1})
        await a.assert_broadcast("room:1", "shout", {"hi": 1})
        await b.assert_broadcast("room:1", "shout", {"hi": 1})
        status, headers, body = await _get(ep.port, "/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        got = _samples(body)
        room = (("channel", "RoomChannel"),)
        assert got[("channels_socket_connects_total", (("result", "ok"), ("transport", "websocket")))] == 2
        assert got[("channels_joins_total", room)] == 2
        assert got[("channels_join_errors_total", room)] == 1
        assert got[("channels_messages_in_total", room)] == 5
        assert got[("channels_messages_out_total", (("channel", "RoomChannel"), ("kind", "reply")))] == 6
        assert got[("channels_messages_out_total", (("channel", "RoomChannel"), ("kind", "push")))] == 1
        assert got[("channels_broadcast_deliveries_total", ())] == 2
        assert got[("channels_handle_in_duration_seconds_count", room)] == 5
        assert got[("channels_connections", ())] == 3  # two sockets and this scrape
        assert got[("channels_pubsub_subscriptions", ())] == 2
        assert got[("channels_pubsub_adapter_up", (("adapter", "local"),))] == 1
        assert got[("otp_crashes_total", ())] == 0
        assert got[("otp_processes", (("behaviour", "RoomChannel"),))] == 2
        assert ("otp_mailbox_high_water_max", ()) in got
        assert ("otp_supervisor_restarts_total", ()) in got


async def test_a_refused_connect_and_a_crash_are_counted(node: otp.Node) -> None:
    async with testing.open_endpoint(_endpoint(metrics=True)) as ep:
        try:
            await testing.connect(ep, "/socket", params={"token": "bad"})
        except testing.ConnectRejected:
            pass
        got = _samples((await _get(ep.port, "/metrics"))[2])
        assert got[("channels_socket_connects_total", (("result", "error"), ("transport", "websocket")))] == 1


async def test_metrics_are_off_by_default_and_handlers_detach_when_the_endpoint_stops(node: otp.Node) -> None:
    assert telemetry.ACTIVE == {}
    async with testing.open_endpoint(_endpoint(metrics=False)) as ep:
        assert telemetry.ACTIVE == {}
        assert (await _get(ep.port, "/metrics"))[0] == 404
    endpoint = _endpoint(metrics=True)
    async with testing.open_endpoint(endpoint):
        assert set(telemetry.ACTIVE) == set(telemetry.EVENTS)
    assert telemetry.ACTIVE == {}


async def test_longpoll_sessions_that_end_are_counted_and_an_overflow_as_a_slow_client(node: otp.Node) -> None:
    endpoint = channels.Endpoint(name="Metrics.LP", check_origin=False, metrics=True,
                                 sockets=[channels.SocketMount("/socket", RoomSocket, longpoll=True)])
    async with testing.open_endpoint(endpoint) as ep:
        for _ in range(2):
            status, _headers, body = await _get(ep.port, "/socket/longpoll?vsn=2.0.0")
            assert status == 200
            assert '"status":410' in body.replace(" ", "")  # a new session
        sessions = [p for p in node.processes() if p.behaviour == "LongPollSession"]
        assert len(sessions) == 2
        gone = trio.Event()
        sessions[0].add_exit_hook(lambda _p, _r: gone.set())
        # Stopped as the session stops itself when its client does not poll fast enough.
        otp.exit(sessions[0].pid, otp.Shutdown("overflow"))
        await gone.wait()
        got = _samples((await _get(ep.port, "/metrics"))[2])
        assert got[("channels_socket_closes_total", (("transport", "longpoll"),))] == 1
        assert got[("channels_slow_client_closes_total", (("transport", "longpoll"),))] == 1

"""The long-poll transport over real HTTP: sessions, polls, posts, headers (reference §4)."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import orjson
import pytest
import trio
import trio.testing
import trio_websocket

import channels
import otp
from channels import token as phx_token
from channels.protocol import V2_JSON_SERIALIZER, Message
from channels.transports._longpoll import LongPollOptions, session_salt

from ._app import OBSERVER, SECRET, UserSocket, running_endpoint, stop_endpoint
from ._client import HTTPConnection, LongPollClient, v2

JSON_HEADERS = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "access-control-allow-origin": "*",
}


def _port(endpoint: channels.Endpoint) -> int:
    assert endpoint.port is not None
    return endpoint.port


async def _sessions(name: str = "LP") -> list[otp.Pid]:
    return [pid for _, pid, _, _ in await otp.DynamicSupervisor.which_children(f"{name}.LongPoll")]


async def _collect(client: LongPollClient, n: int) -> list[Any]:
    """Poll until ``n`` messages came (each poll must bring some)."""
    got: list[Any] = []
    while len(got) < n:
        got.extend(await client.poll_messages())
    assert len(got) == n, got
    return got


async def _joined(client: LongPollClient, topic: str = "room:lobby", join_ref: str = "1") -> None:
    assert await client.post(v2(join_ref, join_ref, topic, "phx_join", {})) == {"status": 200}
    [reply] = await client.poll_messages()
    assert reply[3:5] == ["phx_reply", {"status": "ok", "response": {"joined": topic}}], reply


async def _wait_polling(pid: otp.Pid) -> None:
    """Wait until a poll is parked on the session ``pid``."""
    while True:
        await trio.testing.wait_all_tasks_blocked()
        info = otp.process_info(pid)
        assert info is not None
        if info.summary["polling"]:
            return


def _assert_longpoll_headers(headers: list[tuple[str, str]]) -> None:
    got = dict(headers)
    for name, value in JSON_HEADERS.items():
        assert got.get(name) == value, (name, headers)


# -- sessions and tokens ---------------------------------------------------------------------


async def test_get_without_token_creates_a_session_answering_410_with_a_token(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            body = await client.open()
            assert body["messages"] == []
            assert isinstance(body["token"], str)
            assert body["token"]
            assert len(await _sessions()) == 1
        finally:
            await client.aclose()


async def test_every_answer_is_http_200_json_uncached_and_cors_readable(node: otp.Node) -> None:
    async with running_endpoint(LongPollOptions(window_ms=50)) as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            created = await client.get()
            client.token = created.json()["token"]
            posted = await client.post_raw(v2("1", "1", "room:a", "phx_join", {}))
            polled = await client.get()
            empty = await client.get()
            client.token = "forged"
            gone = await client.post_raw(b"[]")
            for response, status in ((created, 410), (posted, 200), (polled, 200), (empty, 204), (gone, 410)):
                assert response.status == 200
                assert response.json()["status"] == status
                _assert_longpoll_headers(response.headers)
        finally:
            await client.aclose()


async def test_options_is_a_cors_preflight_echoing_the_requested_headers(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        conn = await HTTPConnection.open(_port(endpoint))
        try:
            response = await conn.request("OPTIONS", "/socket/longpoll?vsn=2.0.0", [
                ("origin", "http://elsewhere.test"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type, x-phoenix-longpoll-token"),
            ])
        finally:
            await conn.aclose()
        assert response.status == 200
        assert response.body == b""
        headers = dict(response.headers)
        assert headers["access-control-allow-origin"] == "*"
        assert headers["cache-control"] == "no-store"
        assert headers["access-control-allow-headers"] == "content-type, x-phoenix-longpoll-token"
        assert headers["access-control-allow-methods"] == "get, post, options"
        assert headers["access-control-max-age"] == "3600"
        assert await _sessions() == []


async def test_methods_other_than_get_post_options_get_400(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        conn = await HTTPConnection.open(_port(endpoint))
        try:
            response = await conn.request("PUT", "/socket/longpoll", body=b"x")
        finally:
            await conn.aclose()
        assert response.status == 400
        assert response.body == b""
        assert dict(response.headers)["cache-control"] == "no-store"


async def test_keep_alive_serves_every_request_of_a_session_on_one_connection(node: otp.Node) -> None:
    async with running_endpoint(LongPollOptions(window_ms=50)) as endpoint:
        conn = await HTTPConnection.open(_port(endpoint))
        try:
            target = "/socket/longpoll?vsn=2.0.0"
            token = (await conn.request("GET", target)).json()["token"]
            auth = [("x-phoenix-longpoll-token", token)]
            ndjson = [*auth, ("content-type", "application/x-ndjson")]
            assert (await conn.request("POST", target, ndjson, v2("1", "1", "room:k", "phx_join", {}))).json() == {
                "status": 200}
            assert (await conn.request("GET", target, auth)).json()["status"] == 200
            assert (await conn.request("POST", target, ndjson, v2("1", "2", "room:k", "ping", {}))).json() == {
                "status": 200}
            assert (await conn.request("GET", target, auth)).json()["status"] == 200
            assert (await conn.request("GET", target, auth)).json()["status"] == 204
            assert conn.requests == 6
            # One TCP connection, and the session it serves (sessions hold a slot of max_connections).
            assert endpoint.statistics()["connections"] == 2
        finally:
            await conn.aclose()


async def test_post_without_a_valid_session_answers_410(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            assert await client.post(v2("1", "1", "room:a", "phx_join", {})) == {"status": 410}
            client.token = "SFMyNTY.garbage.garbage"
            assert await client.post(v2("1", "1", "room:a", "phx_join", {})) == {"status": 410}
            assert await _sessions() == []
        finally:
            await client.aclose()


async def test_forged_token_starts_a_new_session(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            good = client.token
            assert good is not None
            # Change a signature character in its high bits (the last one has padding bits).
            forged = good[:-5] + ("A" if good[-5] != "A" else "Q") + good[-4:]
            client.token = forged
            body = await client.poll()
            assert body["status"] == 410
            assert body["token"] not in (good, client.token)
            assert len(await _sessions()) == 2
            client.token = forged
            assert await client.post(v2(None, "1", "phoenix", "heartbeat", {})) == {"status": 410}
        finally:
            await client.aclose()


async def test_expired_token_starts_a_new_session(node: otp.Node) -> None:
    options = LongPollOptions(window_ms=50, max_age=3600)
    async with running_endpoint(options) as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            data = phx_token.verify(SECRET, session_salt(endpoint), client.token)
            good = client.token
            client.token = phx_token.sign(SECRET, session_salt(endpoint), data,
                                          signed_at=time.time() - 7200, max_age=3600)
            assert await client.post(v2(None, "1", "phoenix", "heartbeat", {})) == {"status": 410}
            body = await client.poll()
            assert body["status"] == 410
            assert body["token"] != good
            assert len(await _sessions()) == 2
            # The same data signed now is accepted: only the age was wrong.
            client.token = phx_token.sign(SECRET, session_salt(endpoint), data, max_age=3600)
            assert (await client.poll())["status"] == 204
        finally:
            await client.aclose()


async def test_token_signed_with_another_secret_starts_a_new_session(node: otp.Node) -> None:
    async with running_endpoint(LongPollOptions(window_ms=50)) as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            data = phx_token.verify(SECRET, session_salt(endpoint), client.token)
            client.token = phx_token.sign("another-secret-key-base-0123456789", session_salt(endpoint), data)
            assert (await client.poll())["status"] == 410
            assert len(await _sessions()) == 2
        finally:
            await client.aclose()


async def test_token_is_bound_to_the_endpoint_instance_that_created_it(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        await client.open()
        old_token = client.token
        await client.aclose()
    async with running_endpoint(LongPollOptions(window_ms=50)) as endpoint:
        client = LongPollClient(_port(endpoint))
        client.token = old_token
        try:
            body = await client.poll()
            assert body["status"] == 410
            assert body["token"] != old_token
        finally:
            await client.aclose()


async def test_header_token_wins_over_the_query_and_the_last_query_token_wins(node: otp.Node) -> None:
    async with running_endpoint(LongPollOptions(window_ms=50)) as endpoint:
        port = _port(endpoint)
        conn = await HTTPConnection.open(port)
        try:
            token = (await conn.request("GET", "/socket/longpoll?vsn=2.0.0")).json()["token"]
            stale = "SFMyNTY.stale.stale"
            header_wins = await conn.request("GET", f"/socket/longpoll?vsn=2.0.0&token={stale}",
                                             [("x-phoenix-longpoll-token", token)])
            assert header_wins.json()["status"] == 204
            last_wins = await conn.request("GET", f"/socket/longpoll?token={stale}&vsn=2.0.0&token={token}")
            assert last_wins.json()["status"] == 204
            stale_last = await conn.request("GET", f"/socket/longpoll?token={token}&vsn=2.0.0&token={stale}")
            assert stale_last.json()["status"] == 410
        finally:
            await conn.aclose()


async def test_user_token_param_reaches_connect_when_creating_a_session(node: otp.Node) -> None:
    async with running_endpoint() as endpoint, otp.open_mailbox(name=OBSERVER):
        client = LongPollClient(_port(endpoint), params={"token": "user-secret", "user": "ann"})
        try:
            await client.open()
            _, params, _info = await otp.receive(lambda m: m[0] == "connect", timeout=5)
            assert params["token"] == "user-secret"
            assert params["user"] == "ann"
        finally:
            await client.aclose()


# -- connect -----------------------------------------------------------------------------------


async def test_refused_origin_answers_403_in_the_body(node: otp.Node) -> None:
    async with running_endpoint(check_origin=True, url_host="example.com") as endpoint:
        bad = LongPollClient(_port(endpoint), headers=[("origin", "http://evil.test")])
        good = LongPollClient(_port(endpoint), headers=[("origin", "https://example.com")])
        try:
            response = await bad.get()
            assert response.status == 200
            assert response.json() == {"status": 403}
            _assert_longpoll_headers(response.headers)
            assert await bad.post(b"[]") == {"status": 403}
            await good.open()
            assert len(await _sessions()) == 1
        finally:
            await bad.aclose()
            await good.aclose()


async def test_connect_refusal_answers_403_and_a_crash_500(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        refused = LongPollClient(_port(endpoint), params={"user": "refused"})
        crashed = LongPollClient(_port(endpoint), params={"user": "crash"})
        bad_vsn = LongPollClient(_port(endpoint), vsn="3.0.0")
        try:
            assert (await refused.poll()) == {"status": 403}
            assert (await crashed.poll()) == {"status": 500}
            assert (await bad_vsn.poll()) == {"status": 403}
            assert await _sessions() == []
        finally:
            for c in (refused, crashed, bad_vsn):
                await c.aclose()


async def test_auth_token_header_reaches_connect_info(node: otp.Node) -> None:
    async with running_endpoint(auth_token=True) as endpoint, otp.open_mailbox(name=OBSERVER):
        client = LongPollClient(_port(endpoint), headers=[("x-phoenix-authtoken", "bearer-123")])
        try:
            await client.open()
            _, _params, info = await otp.receive(lambda m: m[0] == "connect", timeout=5)
            assert info["auth_token"] == "bearer-123"
            assert ("x-phoenix-authtoken", "bearer-123") in info["x_headers"]
        finally:
            await client.aclose()


# -- polls ---------------------------------------------------------------------------------------


async def test_poll_waits_and_answers_as_soon_as_a_message_arrives(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:wait")
            [session] = await _sessions()
            result: list[Any] = []

            async def poll() -> None:
                result.extend(await client.poll_messages())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                await _wait_polling(session)
                endpoint.broadcast("room:wait", "news", {"n": 1})
            assert result == [[None, None, "room:wait", "news", {"n": 1}]]
        finally:
            await client.aclose()


async def test_poll_with_nothing_to_send_answers_204_after_window_ms(node: otp.Node, autojump_clock: Any) -> None:
    async with running_endpoint(LongPollOptions(window_ms=3_000)) as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            start = trio.current_time()
            body = await client.poll()
            assert body == {"status": 204, "token": client.token, "messages": []}
            assert trio.current_time() - start == pytest.approx(3.0, abs=0.1)
        finally:
            await client.aclose()


async def test_session_not_polled_for_one_and_a_half_windows_stops_with_its_channels(
        node: otp.Node, autojump_clock: Any) -> None:
    async with running_endpoint(LongPollOptions(window_ms=2_000)) as endpoint, otp.open_mailbox(name=OBSERVER):
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:idle")
            [session] = await _sessions()
            ref = otp.monitor(session)
            polled_at = trio.current_time()
            down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref, timeout=60)
            assert down.reason == otp.Shutdown("inactive")
            assert trio.current_time() - polled_at == pytest.approx(3.0, abs=0.1)
            msg = await otp.receive(lambda m: m[0] == "terminate", timeout=5)
            assert msg == ("terminate", "room:idle", otp.Shutdown("inactive"))
            old = client.token
            body = await client.poll()
            assert body["status"] == 410
            assert body["token"] != old
        finally:
            await client.aclose()


async def test_polling_keeps_a_session_alive(node: otp.Node, autojump_clock: Any) -> None:
    async with running_endpoint(LongPollOptions(window_ms=2_000)) as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            [session] = await _sessions()
            start = trio.current_time()
            while trio.current_time() - start < 20:
                assert (await client.poll())["status"] == 204
            assert otp.is_alive(session)
        finally:
            await client.aclose()


# -- posts -----------------------------------------------------------------------------------------


async def test_post_dispatches_only_the_first_100_ndjson_lines_in_order(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            lines = [v2(None, str(i), "phoenix", "heartbeat", {}) for i in range(1, 102)]
            assert await client.post(*lines) == {"status": 200}
            replies = await client.poll_messages()
            assert [r[1] for r in replies] == [str(i) for i in range(1, 101)]
            assert all(r[2:] == ["phoenix", "phx_reply", {"status": "ok", "response": {}}] for r in replies)
        finally:
            await client.aclose()


async def test_post_with_another_content_type_is_one_text_frame(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            frame = v2(None, "7", "phoenix", "heartbeat", {})
            response = await client.post_raw(frame, content_type="application/json")
            assert response.json() == {"status": 200}
            response = await client.post_raw(v2(None, "8", "phoenix", "heartbeat", {}), content_type=None)
            assert response.json() == {"status": 200}
            assert [m[1] for m in await _collect(client, 2)] == ["7", "8"]
        finally:
            await client.aclose()


async def test_v1_json_objects_work_as_single_frame_posts(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint), vsn="1.0.0")
        try:
            await client.open()
            join = b'{"topic":"room:v1","event":"phx_join","payload":{},"ref":"1"}'
            assert (await client.post_raw(join, content_type="application/json")).json() == {"status": 200}
            [reply] = await client.poll_messages()
            assert reply["topic"] == "room:v1"
            assert reply["event"] == "phx_reply"
            assert reply["ref"] == "1"
            assert reply["payload"] == {"status": "ok", "response": {"joined": "room:v1"}}
        finally:
            await client.aclose()


async def test_base64_ndjson_lines_are_binary_frames(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:bin")
            frame = V2_JSON_SERIALIZER.encode_client(Message("room:bin", "bytes", b"\x00\xff" * 5, "2", "1"))
            line = base64.b64encode(frame.data)
            assert await client.post(line, v2("1", "3", "room:bin", "ping", {})) == {"status": 200}
            replies = await _collect(client, 2)
            assert replies[0] == ["1", "2", "room:bin", "phx_reply",
                                  {"status": "ok", "response": {"size": 10, "binary": True}}]
            assert replies[1][1] == "3"
        finally:
            await client.aclose()


async def test_bad_ndjson_line_answers_400(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            response = await client.post_raw(v2(None, "1", "phoenix", "heartbeat", {}) + b"\n%%%not base64")
            assert response.status == 400
            assert b"line 2" in response.body
            # The line before the bad one was dispatched.
            [reply] = await client.poll_messages()
            assert reply[1] == "1"
        finally:
            await client.aclose()


async def test_undecodable_message_stops_the_session_and_answers_400(node: otp.Node) -> None:
    async with running_endpoint() as endpoint, otp.open_mailbox():
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            [session] = await _sessions()
            ref = otp.monitor(session)
            assert (await client.post_raw(b"[1, 2]", content_type="text/plain")).json() == {"status": 400}
            down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref, timeout=5)
            assert down.reason == otp.Shutdown("invalid_message")
        finally:
            await client.aclose()


async def test_post_answers_408_when_the_dispatch_is_not_acknowledged_within_pubsub_timeout_ms(
        node: otp.Node, autojump_clock: Any) -> None:
    # pubsub_timeout_ms, not window_ms (Phoenix's wait): README "Differences from Phoenix".
    async with running_endpoint(LongPollOptions(window_ms=60_000, pubsub_timeout_ms=4_000)) as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            start = trio.current_time()
            body = await client.post(v2("1", "1", "slow:1", "phx_join", {}), v2(None, "2", "phoenix", "heartbeat", {}))
            assert body == {"status": 408}
            assert trio.current_time() - start == pytest.approx(4.0, abs=0.1)
        finally:
            await client.aclose()


# -- channel behaviour over long-poll ---------------------------------------------------------------


async def test_join_and_push_replies_arrive_on_the_next_poll(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            assert await client.post(v2("1", "1", "room:lobby", "phx_join", {})) == {"status": 200}
            assert await client.poll_messages() == [
                ["1", "1", "room:lobby", "phx_reply", {"status": "ok", "response": {"joined": "room:lobby"}}]
            ]
            assert await client.post(v2("1", "2", "room:lobby", "ping", {"n": 1})) == {"status": 200}
            assert await client.poll_messages() == [
                ["1", "2", "room:lobby", "phx_reply", {"status": "ok", "response": {"pong": {"n": 1}}}]
            ]
            assert await client.post(v2("1", "3", "room:lobby", "push_me", {"x": 1})) == {"status": 200}
            assert await client.poll_messages() == [["1", None, "room:lobby", "pushed", {"x": 1}]]
        finally:
            await client.aclose()


async def test_refused_join_and_unmatched_topic_are_acknowledged_and_answered(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            assert await client.post(v2("1", "1", "room:no", "phx_join", {"deny": True}),
                                     v2("2", "2", "nowhere", "phx_join", {})) == {"status": 200}
            replies = await _collect(client, 2)
            assert replies[0] == ["1", "1", "room:no", "phx_reply",
                                  {"status": "error", "response": {"reason": "denied"}}]
            assert replies[1] == [None, "2", "nowhere", "phx_reply",
                                  {"status": "error", "response": {"reason": "unmatched topic"}}]
        finally:
            await client.aclose()


async def test_broadcasts_reach_every_long_poll_subscriber(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        alice = LongPollClient(_port(endpoint))
        bob = LongPollClient(_port(endpoint))
        try:
            for c in (alice, bob):
                await c.open()
                await _joined(c, "room:party")
            assert await alice.post(v2("1", "2", "room:party", "shout", {"hi": "all"})) == {"status": 200}
            for c in (alice, bob):
                assert await c.poll_messages() == [[None, None, "room:party", "shout", {"hi": "all"}]]
            endpoint.broadcast("room:party", "server", {"n": 2})
            for c in (alice, bob):
                assert await c.poll_messages() == [[None, None, "room:party", "server", {"n": 2}]]
        finally:
            await alice.aclose()
            await bob.aclose()


async def test_intercepted_events_go_through_handle_out(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:int")
            endpoint.broadcast("room:int", "filtered", {"keep": False})
            endpoint.broadcast("room:int", "filtered", {"keep": True})
            assert await client.poll_messages() == [
                ["1", None, "room:int", "filtered", {"keep": True, "intercepted": True}]
            ]
        finally:
            await client.aclose()


async def test_leave_replies_ok_then_closes_the_channel(node: otp.Node) -> None:
    async with running_endpoint() as endpoint, otp.open_mailbox(name=OBSERVER):
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:bye")
            assert await client.post(v2("1", "2", "room:bye", "phx_leave", {})) == {"status": 200}
            messages = await _collect(client, 2)
            assert messages == [
                ["1", "2", "room:bye", "phx_reply", {"status": "ok", "response": {}}],
                ["1", "1", "room:bye", "phx_close", {}],
            ]
            assert await otp.receive(lambda m: m[0] == "terminate", timeout=5) == (
                "terminate", "room:bye", otp.Shutdown("left"))
        finally:
            await client.aclose()


async def test_channel_stop_with_reply_sends_the_reply_then_phx_close(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:stop")
            assert await client.post(v2("1", "2", "room:stop", "stop", {})) == {"status": 200}
            assert await _collect(client, 2) == [
                ["1", "2", "room:stop", "phx_reply", {"status": "ok", "response": {"bye": True}}],
                ["1", "1", "room:stop", "phx_close", {}],
            ]
        finally:
            await client.aclose()


async def test_channel_crash_pushes_phx_error_and_the_session_lives_on(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:crash")
            await _joined(client, "room:ok", join_ref="5")
            assert await client.post(v2("1", "2", "room:crash", "crash", {})) == {"status": 200}
            assert await client.poll_messages() == [
                ["1", "1", "room:crash", "phx_error", {"reason": "channel_crash"}]
            ]
            assert await client.post(v2("5", "6", "room:ok", "ping", {})) == {"status": 200}
            [reply] = await client.poll_messages()
            assert reply[:4] == ["5", "6", "room:ok", "phx_reply"]
        finally:
            await client.aclose()


async def test_disconnect_broadcast_to_the_socket_id_ends_the_session(node: otp.Node) -> None:
    async with running_endpoint() as endpoint, otp.open_mailbox(name=OBSERVER):
        client = LongPollClient(_port(endpoint), params={"user": "alice"})
        other = LongPollClient(_port(endpoint), params={"user": "bob"})
        try:
            await client.open()
            await other.open()
            await _joined(client, "room:dc")
            sessions = await _sessions()
            assert len(sessions) == 2
            result: list[Any] = []

            async def poll() -> None:
                result.append(await client.poll())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(poll)
                [alice] = [pid for pid in sessions
                           if otp.process_info(pid).summary["id"] == "users_socket:alice"]  # type: ignore[union-attr]
                await _wait_polling(alice)
                endpoint.broadcast("users_socket:alice", "disconnect", {})
            assert result == [{"status": 410}]
            assert await otp.receive(lambda m: m[0] == "terminate", timeout=5) == (
                "terminate", "room:dc", otp.Shutdown("disconnected"))
            assert len(await _sessions()) == 1
            old = client.token
            body = await client.poll()
            assert body["status"] == 410
            assert body["token"] != old
        finally:
            await client.aclose()
            await other.aclose()


async def test_binary_server_frames_are_skipped_with_a_log_line(
        node: otp.Node, caplog: pytest.LogCaptureFixture) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:binpush")
            with caplog.at_level(logging.WARNING, logger="channels.transport"):
                assert await client.post(v2("1", "2", "room:binpush", "binary_push", {})) == {"status": 200}
                assert await client.poll_messages() == [["1", None, "room:binpush", "after_bin", {}]]
            assert any("binary" in r.getMessage() for r in caplog.records)
        finally:
            await client.aclose()


async def test_endpoint_shutdown_drains_long_poll_sessions(node: otp.Node) -> None:
    endpoint = channels.Endpoint(
        name="LPDrain", port=0, check_origin=False, secret_key_base=SECRET,
        sockets=[channels.SocketMount("/socket", UserSocket, longpoll=True)],
    )
    await endpoint.start_link()
    async with otp.open_mailbox(name=OBSERVER):
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:drain")
            [session] = await _sessions("LPDrain")
            ref = otp.monitor(session)
            await stop_endpoint(endpoint)
            down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref, timeout=5)
            assert down.reason == otp.Shutdown("restart")
            assert await otp.receive(lambda m: m[0] == "terminate", timeout=5) == (
                "terminate", "room:drain", otp.Shutdown("draining"))
        finally:
            await client.aclose()


async def test_session_is_a_temporary_child_of_the_long_poll_supervisor(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            [session] = await _sessions()
            info = otp.process_info(session)
            assert info is not None
            assert info.behaviour == "LongPollSession"
            assert info.summary["transport"] == "longpoll"
            otp.exit(session, otp.KILL)
            await trio.testing.wait_all_tasks_blocked()
            assert await _sessions() == []
        finally:
            await client.aclose()


async def test_token_naming_another_sessions_pid_is_refused(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        first = LongPollClient(_port(endpoint))
        second = LongPollClient(_port(endpoint))
        try:
            await first.open()
            await second.open()
            salt = session_salt(endpoint)
            a = phx_token.verify(SECRET, salt, first.token)
            b = phx_token.verify(SECRET, salt, second.token)
            assert a[3] != b[3]
            # Correctly signed, but the pid is the second session's: not bound to this session id.
            first.token = phx_token.sign(SECRET, salt, (*a[:3], b[3], a[4]))
            assert await first.post(v2(None, "1", "phoenix", "heartbeat", {})) == {"status": 410}
            # An unknown shape, correctly signed, is no session either.
            first.token = phx_token.sign(SECRET, salt, ["v1", a[1]])
            assert await first.post(v2(None, "1", "phoenix", "heartbeat", {})) == {"status": 410}
            assert len(await _sessions()) == 2
        finally:
            await first.aclose()
            await second.aclose()


async def test_session_whose_client_does_not_poll_fast_enough_stops_with_overflow(node: otp.Node) -> None:
    async with running_endpoint(LongPollOptions(max_buffer_bytes=2_000)) as endpoint, otp.open_mailbox():
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:flood")
            [session] = await _sessions()
            ref = otp.monitor(session)
            for i in range(50):
                endpoint.broadcast("room:flood", "flood", {"i": i, "pad": "x" * 50})
            down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref, timeout=5)
            assert down.reason == otp.Shutdown("overflow")
        finally:
            await client.aclose()


def test_long_poll_options_are_validated() -> None:
    with pytest.raises(ValueError, match="window_ms"):
        LongPollOptions(window_ms=0)
    with pytest.raises(ValueError, match="max_age"):
        LongPollOptions(max_age=0)
    with pytest.raises(ValueError, match="max_buffer_bytes"):
        LongPollOptions(max_buffer_bytes=0)
    assert LongPollOptions(window_ms=2_000).inactive_after == 3.0


async def test_duplicate_join_answers_the_new_join_then_closes_the_old_one(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:dup", join_ref="1")
            assert await client.post(v2("2", "2", "room:dup", "phx_join", {})) == {"status": 200}
            assert await _collect(client, 2) == [
                ["2", "2", "room:dup", "phx_reply", {"status": "ok", "response": {"joined": "room:dup"}}],
                ["1", "1", "room:dup", "phx_close", {}],
            ]
            # A message with the old join_ref is stale and dropped; the new one is answered.
            assert await client.post(v2("1", "3", "room:dup", "ping", {}), v2("2", "4", "room:dup", "ping", {})) == {
                "status": 200}
            assert [m[1] for m in await client.poll_messages()] == ["4"]
        finally:
            await client.aclose()


async def test_asynchronous_reply_from_another_process_reaches_the_client(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:async")
            assert await client.post(v2("1", "2", "room:async", "async_reply", {"a": 1})) == {"status": 200}
            assert await client.poll_messages() == [
                ["1", "2", "room:async", "phx_reply", {"status": "ok", "response": {"later": {"a": 1}}}]
            ]
        finally:
            await client.aclose()


async def test_broadcast_reaches_websocket_and_long_poll_subscribers_alike(node: otp.Node) -> None:
    async with running_endpoint() as endpoint:
        client = LongPollClient(_port(endpoint))
        try:
            await client.open()
            await _joined(client, "room:mixed")
            url = f"ws://127.0.0.1:{_port(endpoint)}/socket/websocket?vsn=2.0.0"
            async with trio_websocket.open_websocket_url(url) as ws:
                await ws.send_message(v2("1", "1", "room:mixed", "phx_join", {}).decode())
                assert orjson.loads(await ws.get_message())[3] == "phx_reply"
                await ws.send_message(v2("1", "2", "room:mixed", "shout", {"from": "ws"}).decode())
                assert orjson.loads(await ws.get_message()) == [None, None, "room:mixed", "shout", {"from": "ws"}]
                assert await client.poll_messages() == [[None, None, "room:mixed", "shout", {"from": "ws"}]]
                assert await client.post(v2("1", "2", "room:mixed", "shout", {"from": "lp"})) == {"status": 200}
                assert orjson.loads(await ws.get_message()) == [None, None, "room:mixed", "shout", {"from": "lp"}]
                assert await client.poll_messages() == [[None, None, "room:mixed", "shout", {"from": "lp"}]]
        finally:
            await client.aclose()


async def test_a_slow_connect_does_not_hold_up_other_new_sessions(node: otp.Node) -> None:
    async with running_endpoint() as endpoint, otp.open_mailbox(name=OBSERVER):
        slow = LongPollClient(_port(endpoint), params={"user": "slow"})
        fast = LongPollClient(_port(endpoint), params={"user": "fast"})
        try:
            async with trio.open_nursery() as nursery:
                opened: list[Any] = []

                async def open_slow() -> None:
                    opened.append(await slow.open())

                nursery.start_soon(open_slow)
                _, slow_pid = await otp.receive(lambda m: m[0] == "slow_connect", timeout=5)
                await fast.open()
                assert opened == []
                otp.send(slow_pid, "go")
            assert opened[0]["status"] == 410
            assert len(await _sessions()) == 2
        finally:
            await slow.aclose()
            await fast.aclose()

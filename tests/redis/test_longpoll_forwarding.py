"""Long-poll across nodes: a token naming a node of the cluster that does not answer (it is gone).

The request is forwarded through the Redis PubSub to that node's forwarder; without an acknowledgement
within pubsub_timeout_ms the session counts as gone: a GET starts a new session here (410 with a new
token), a POST answers 410. (tests/cluster/test_longpoll_workers.py covers forwarding between live
workers.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import trio

import channels
import otp
from channels import testing, token as _token
from channels.transports import LongPollOptions
from channels.transports._longpoll import session_salt

SECRET = "k" * 64


class EchoChannel(channels.Channel):
    async def join(self, topic: str, payload: Any, socket: channels.Socket) -> Any:
        return channels.Accept(socket)

    async def handle_in(self, event: str, payload: Any, socket: channels.Socket) -> Any:
        return channels.Reply(("ok", payload), socket)


class EchoSocket(channels.Socket):
    routes = [("echo", EchoChannel)]

    async def connect(self, params: Mapping[str, Any], connect_info: Any) -> Any:
        return channels.Accept(self)


def _endpoint(redis_url: str) -> channels.Endpoint:
    return channels.Endpoint(
        name="LP.Endpoint", check_origin=False, secret_key_base=SECRET,
        pubsub_adapter=channels.RedisAdapter(redis_url, node_name="lp-node-a"),
        sockets=[channels.SocketMount("/socket", EchoSocket,
                                      longpoll=LongPollOptions(window_ms=500, pubsub_timeout_ms=300))])


async def _request(port: int, method: str, token: str | None, body: bytes = b"") -> dict[str, Any]:
    query = "vsn=2.0.0" + (f"&token={token}" if token else "")
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        head = (f"{method} /socket/longpoll?{query} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")
        await stream.send_all(head.encode() + body)
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
    answer: dict[str, Any] = json.loads(data.partition(b"\r\n\r\n")[2])
    return answer


def _ghost_token(endpoint: channels.Endpoint) -> str:
    data = ("v1", "some-endpoint-id", "lp-node-gone", "<0.99.0>", "session-of-a-gone-node")
    return _token.sign(SECRET, session_salt(endpoint), data, max_age=60)


async def test_a_session_on_a_node_that_does_not_answer_is_gone(node: otp.Node, redis_url: str) -> None:
    endpoint = _endpoint(redis_url)
    async with testing.open_endpoint(endpoint) as ep:
        ghost = _ghost_token(endpoint)
        posted = await _request(ep.port, "POST", ghost, b'["1","2","echo","ping",{}]')
        assert posted == {"status": 410}
        polled = await _request(ep.port, "GET", ghost)
        assert polled["status"] == 410
        assert polled["token"]
        assert polled["token"] != ghost
        again = await _request(ep.port, "POST", polled["token"], b'["1","1","echo","phx_join",{}]')
        assert again == {"status": 200}
        forwarder = otp.process_info("LP.Endpoint.LongPoll.Forwarder")
        assert forwarder is not None
        assert forwarder.summary == {"forwarded_in": 0, "forwarded_out": 2}  # both were sent to the other node

"""examples.client against examples.chat, over real sockets (two Python clients in one room)."""

from __future__ import annotations

import trio

import otp
from channels import testing
from examples import chat
from examples.client import chat as chat_client


async def test_two_python_clients_chat_through_examples_chat(node: otp.Node) -> None:
    async with testing.open_endpoint(chat.make_endpoint(port=0)) as ep:
        url = f"ws://{ep.host}:{ep.port}/socket"
        lines: list[str] = []
        results: dict[str, list[dict[str, object]]] = {}

        async def run(user: str, messages: list[str]) -> None:
            results[user] = await chat_client(url, user, "py", messages, out=lines.append)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, "ann", ["hi bob"])
            nursery.start_soon(run, "bob", ["hi ann"])
    assert {"user": "ann", "body": "hi bob"} in results["ann"]
    assert {"user": "bob", "body": "hi ann"} in results["bob"]
    assert "joined room:py as ann" in lines

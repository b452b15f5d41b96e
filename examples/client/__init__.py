"""A Python chat client for examples.chat, on ``channels.client`` (the Phoenix protocol on Trio).

Run the chat server, then::

    python -m examples.client --url ws://127.0.0.1:4000/socket --user ann --room lobby hello "how are you"

It connects with ``user`` as a connect param, joins ``room:<room>``, sends each message as
``new_msg`` and waits for its reply, then prints what the room broadcasts (its own
messages included) until it has seen them all; with ``--listen`` it keeps printing
(and reconnects and rejoins by itself if the server goes away, as phoenix.js does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import trio

from channels.client import open_socket

__all__ = ["chat"]


async def chat(url: str, user: str, room: str, messages: Sequence[str], *, listen: bool = False,
               out: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Join ``room:<room>`` as ``user``, send ``messages``, return the ``new_msg`` broadcasts seen.

    Returns once every message sent has come back as a broadcast (or never, with ``listen``).
    """
    seen: list[dict[str, Any]] = []
    async with open_socket(url, params={"user": user}) as socket:
        channel = socket.channel(f"room:{room}")
        await channel.join()
        out(f"joined room:{room} as {user}")
        for body in messages:
            reply = await channel.push("new_msg", {"body": body}, timeout=10)
            if reply.status != "ok":
                out(f"refused: {reply.payload}")
        pending = list(messages)
        async for message in channel:
            if message.event != "new_msg" or not isinstance(message.payload, dict):
                continue
            seen.append(message.payload)
            out(f"{message.payload.get('user')}: {message.payload.get('body')}")
            if message.payload.get("user") == user and message.payload.get("body") in pending:
                pending.remove(message.payload["body"])
            if not pending and not listen:
                break
    return seen


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m examples.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="ws://127.0.0.1:4000/socket")
    parser.add_argument("--user", default="python")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--listen", action="store_true", help="keep printing the room's messages")
    parser.add_argument("messages", nargs="*")
    args = parser.parse_args()
    trio.run(lambda: chat(args.url, args.user, args.room, args.messages, listen=args.listen))

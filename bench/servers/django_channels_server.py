"""The Django Channels peer: a websocket consumer with ``group_send`` on the in-memory layer.

Run from ``.bench-venv`` as ``python django_channels_server.py PORT``, with the working
directory outside the otp-channels repository, so that ``channels`` is Django Channels and not
the project's package. A consumer joins group ``bench`` on connect. A text message
``{"go":M,"size":S}`` sends M ``group_send`` messages (each ``{"i":k,"t":<monotonic ns>,
"p":"..."}``); any other message is echoed back.

Configuration (the fastest documented one): ``AsyncWebsocketConsumer`` (no sync-to-async hops),
``InMemoryChannelLayer`` with capacity 100,000 (the default 100 drops messages under a burst),
served by uvicorn (supported by Channels' deployment docs and faster than Daphne's Twisted stack)
with ``loop="uvloop"``, ``http="httptools"``, ``ws="websockets"``, ``ws_per_message_deflate=False``,
``ws_ping_interval=None``, access log off, backlog 4096. No origin validator, no auth middleware,
no database.
"""

# mypy: ignore-errors
# (runs in .bench-venv; Django Channels' import name `channels` collides with the project's)

from __future__ import annotations

import json
import resource
import sys
import time

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    INSTALLED_APPS=["channels"],
    DATABASES={},
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 100_000, "expiry": 600},
        }
    },
    ROOT_URLCONF=__name__,
    SECRET_KEY="bench",
    ALLOWED_HOSTS=["*"],
    LOGGING_CONFIG=None,
)
django.setup()

import uvicorn  # noqa: E402
from django.urls import path  # noqa: E402

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

urlpatterns: list = []
GROUP = "bench"


def make_payload(k: int, size: int) -> str:
    """A broadcast payload of about ``size`` bytes carrying its index and send time."""
    head = f'{{"i":{k},"t":{time.monotonic_ns()},"p":"'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


class BenchConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is not None and text_data.startswith('{"go"'):
            req = json.loads(text_data)
            for k in range(req["go"]):
                await self.channel_layer.group_send(
                    GROUP, {"type": "bench.msg", "text": make_payload(k, req.get("size", 100))}
                )
        else:
            await self.send(text_data=text_data)

    async def bench_msg(self, event):
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/", BenchConsumer.as_asgi())])}
)

if __name__ == "__main__":
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
    uvicorn.run(application, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop",
                http="httptools", ws="websockets", ws_per_message_deflate=False,
                ws_ping_interval=None, log_level="warning", access_log=False, lifespan="off",
                backlog=4096)

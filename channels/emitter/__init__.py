"""Broadcast to channels from any process: Django or Flask views, Celery tasks, scripts.

``Emitter`` (sync, redis-py) and ``AsyncEmitter`` (asyncio or Trio) publish the
versioned envelope of ``docs/pubsub-envelope.md`` to the Redis channel the endpoints
subscribe to (``Endpoint(redis_url=...)``); every endpoint node delivers it as it
delivers its own ``endpoint.broadcast``. Needs the ``redis`` extra
(``pip install 'otp-channels[redis]'``) for the redis-py client.

Example::

    from channels.emitter import Emitter

    emitter = Emitter("redis://127.0.0.1:6379", endpoint="Chat.Endpoint")
    emitter.broadcast("room:lobby", "new_msg", {"body": "hello from outside"})
"""

from __future__ import annotations

from channels.pubsub._envelope import (
    ENVELOPE_VERSION as ENVELOPE_VERSION,
    EnvelopeError as EnvelopeError,
    broadcast_envelope as broadcast_envelope,
)

from ._emitter import (
    DEFAULT_ENDPOINT as DEFAULT_ENDPOINT,
    AsyncEmitter as AsyncEmitter,
    Emitter as Emitter,
    endpoint_channel as endpoint_channel,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "ENVELOPE_VERSION",
    "AsyncEmitter",
    "Emitter",
    "EnvelopeError",
    "broadcast_envelope",
    "endpoint_channel",
]

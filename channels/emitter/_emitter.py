"""Emitters: broadcast to channels from processes that are not endpoints."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import sniffio

from channels.pubsub._envelope import broadcast_envelope, emitter_node_name, redis_channel

if TYPE_CHECKING:
    import redis as redis_py
    import redis.asyncio as redis_asyncio

__all__ = ["DEFAULT_ENDPOINT", "AsyncEmitter", "Emitter", "endpoint_channel"]

#: ``Endpoint(name=...)``'s default, so that both sides agree without configuration.
DEFAULT_ENDPOINT: Final = "Endpoint"

_MISSING_REDIS = ("channels.emitter needs the redis-py package for this: "
                  "pip install 'otp-channels[redis]'")


def endpoint_channel(endpoint: str) -> str:
    """The Redis channel the endpoint named ``endpoint`` subscribes to: ``phx:<endpoint>.PubSub``."""
    return redis_channel(f"{endpoint}.PubSub")


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise ImportError(_MISSING_REDIS) from exc
    return redis


class Emitter:
    """Broadcast to the channels of the endpoint named ``endpoint`` through Redis (sync).

    For Django or Flask views, Celery tasks and scripts: any process that can reach the
    Redis the endpoints use (``Endpoint(redis_url=...)``). Thread-safe (redis-py keeps a
    connection pool).

    Example::

        from channels.emitter import Emitter

        emitter = Emitter("redis://127.0.0.1:6379", endpoint="Chat.Endpoint")
        emitter.broadcast("room:lobby", "new_msg", {"body": "from a Celery task"})
        emitter.disconnect("user_socket:42")        # every socket whose id() is that

    Same semantics as ``endpoint.broadcast``: the message is encoded once here, published
    once, and each endpoint node encodes the frame once and writes it to its subscribers
    (the fastlane); channels that intercept the event get it in ``handle_out``.

    Args:
        redis_url: ``redis://[[user]:password@]host[:port][/db]`` (what the endpoints use).
        endpoint: The target endpoint's ``name`` (default ``"Endpoint"``, as ``Endpoint``).
        client: A ``redis.Redis`` to use instead of one made from ``redis_url``.
    """

    def __init__(self, redis_url: str | None = None, endpoint: str = DEFAULT_ENDPOINT, *,
                 client: redis_py.Redis | None = None) -> None:
        if client is None:
            if redis_url is None:
                raise TypeError("Emitter needs a redis_url (or a redis.Redis client)")
            client = _import_redis().Redis.from_url(redis_url)
        self.redis: redis_py.Redis = client
        self.endpoint = endpoint
        self.channel = endpoint_channel(endpoint)
        self.node_name = emitter_node_name()

    def __repr__(self) -> str:
        return f"<Emitter {self.endpoint} via {self.redis!r}>"

    def broadcast(self, topic: str, event: str, payload: Any) -> int:
        """Broadcast ``event`` with ``payload`` to every subscriber of ``topic`` on every node.

        ``payload`` is a JSON value or ``bytes`` (a binary frame for V2 clients). Returns how
        many endpoint nodes received the message (Redis' PUBLISH count).

        Raises:
            channels.emitter.EnvelopeError: Bad topic/event, or a payload that is not JSON.
            redis.exceptions.ConnectionError: Redis cannot be reached.
        """
        receivers: int = self.redis.publish(self.channel, broadcast_envelope(self.node_name, topic, event, payload))
        return receivers

    def disconnect(self, socket_id: str) -> int:
        """Close every socket whose ``Socket.id()`` is ``socket_id``, on every node.

        The same as ``endpoint.broadcast(socket_id, "disconnect", {})``; the clients
        reconnect (and ``connect`` runs again, so a revoked token stops them there).
        """
        return self.broadcast(socket_id, "disconnect", {})

    def close(self) -> None:
        """Close the Redis connections."""
        self.redis.close()

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncEmitter:
    """The async :class:`Emitter`, for asyncio apps (redis-py's asyncio client) and Trio apps.

    Under asyncio it uses ``redis.asyncio``; under Trio, the project's own Redis client
    (the one the endpoints use). One connection, opened on first use.

    Example::

        from channels.emitter import AsyncEmitter

        async with AsyncEmitter("redis://127.0.0.1:6379", endpoint="Chat.Endpoint") as emitter:
            await emitter.broadcast("room:lobby", "new_msg", {"body": "hi"})
    """

    def __init__(self, redis_url: str, endpoint: str = DEFAULT_ENDPOINT) -> None:
        self.redis_url = redis_url
        self.endpoint = endpoint
        self.channel = endpoint_channel(endpoint)
        self.node_name = emitter_node_name()
        self._asyncio: redis_asyncio.Redis | None = None
        self._trio: Any = None

    def __repr__(self) -> str:
        return f"<AsyncEmitter {self.endpoint} via {self.redis_url}>"

    async def broadcast(self, topic: str, event: str, payload: Any) -> int:
        """See :meth:`Emitter.broadcast`."""
        data = broadcast_envelope(self.node_name, topic, event, payload)
        if sniffio.current_async_library() == "trio":
            return await self._publish_trio(data)
        if self._asyncio is None:
            self._asyncio = _import_redis().asyncio.Redis.from_url(self.redis_url)
        receivers: int = await self._asyncio.publish(self.channel, data)
        return receivers

    async def disconnect(self, socket_id: str) -> int:
        """See :meth:`Emitter.disconnect`."""
        return await self.broadcast(socket_id, "disconnect", {})

    async def _publish_trio(self, data: bytes) -> int:
        from channels.pubsub._redis import open_redis_connection

        conn = self._trio
        if conn is None or conn.broken or conn.closed:
            conn = self._trio = await open_redis_connection(self.redis_url)
        receivers: int = await conn.publish(self.channel, data)
        return receivers

    async def aclose(self) -> None:
        """Close the connection."""
        if self._asyncio is not None:
            client, self._asyncio = self._asyncio, None
            await client.aclose()
        if self._trio is not None:
            conn, self._trio = self._trio, None
            await conn.aclose()

    async def __aenter__(self) -> AsyncEmitter:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

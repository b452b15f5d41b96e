"""The Redis PubSub adapter: broadcasts reach subscribers on every node through Redis.

Example::

    adapter = channels.RedisAdapter("redis://127.0.0.1:6379")
    endpoint = channels.Endpoint(..., pubsub_adapter=adapter, pubsub_adapter_spec=adapter.child_spec)

Like ``Phoenix.PubSub.Redis``: each node has a unique name; a broadcast is delivered
locally by the caller and published *once* to the Redis channel ``phx:<pubsub>``; every
other node's adapter receives it and relays it to its local subscribers (with the same
dispatcher, so fastlane encoding happens once per node). ``broadcast_from`` excludes the
sender on its own node only; ``direct_broadcast`` names one target node.

The adapter is a supervised process with two loops, a publisher and a subscriber, each
reconnecting with exponential backoff when Redis goes away. Publishing never blocks:
``broadcast`` appends to a bounded buffer that the publisher pipelines into Redis (a burst
of N broadcasts costs about one round trip). While Redis is unreachable, messages for
other nodes are dropped and counted -- local delivery is never held up -- as Phoenix
logs and drops a PUBLISH on a closed connection.

Wire format (JSON, language-neutral, versioned; ``channels.pubsub._envelope``, specified in
``docs/pubsub-envelope.md``)::

    {"v": 1, "mode": "except" | "only", "node": <sender>, "target": <node or null>,
     "topic": ..., "dispatcher": ..., "msg": <encoded message>}

Messages must be JSON-able values or ``protocol.Broadcast`` (binary payloads travel as
base64). Anything else cannot cross nodes: it is delivered locally and logged.
"""

from __future__ import annotations

import logging
import os
import socket as stdsocket
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import trio

import otp

from ._envelope import ENVELOPE_VERSION, decode_message, encode_envelope, redis_channel
from ._pubsub import deliver_remote
from ._redis import (
    RedisConnectionError,
    RedisError,
    RedisPublisher,
    open_redis_connection,
    open_redis_subscriber,
    parse_redis_url,
    require_redis_support,
)

__all__ = ["RedisAdapter"]

logger = logging.getLogger("channels.pubsub.redis")

@dataclass(eq=False)
class RedisAdapter:
    """A PubSub cluster adapter over Redis (see the module docs).

    Args:
      url: ``redis://[:password@]host[:port][/db]``.
      node_name: unique per node (default: ``<hostname>-<os pid>-<random>``).
      max_buffer: broadcasts kept while the publisher is busy (beyond: dropped, counted).
    """

    url: str
    node_name: str = ""
    max_buffer: int = 100_000
    pubsub: str = ""
    connected_publisher: bool = False
    connected_subscriber: bool = False
    reconnects: int = 0
    dropped_while_down: int = 0
    undeliverable: int = 0
    received: int = 0
    last_error: str | None = None
    startup_timeout: float = 5.0
    publisher: RedisPublisher = field(init=False)
    _ready: trio.Event = field(init=False, default_factory=trio.Event)
    _started: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        require_redis_support()  # fail early, saying what to install
        parse_redis_url(self.url)  # fail early on a bad URL
        if not self.node_name:
            self.node_name = f"{stdsocket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.publisher = RedisPublisher(max_buffer=self.max_buffer)

    @property
    def channel(self) -> bytes:
        return redis_channel(self.pubsub).encode()

    # -- Adapter protocol (sync, never blocks) --------------------------------------------

    def broadcast(self, topic: str, message: Any, dispatcher: str) -> None:
        self._publish("except", None, topic, message, dispatcher)

    def direct_broadcast(self, node_name: str, topic: str, message: Any, dispatcher: str) -> None:
        self._publish("only", node_name, topic, message, dispatcher)

    def _publish(self, mode: str, target: str | None, topic: str, message: Any, dispatcher: str) -> None:
        if not self.pubsub:
            return  # not started yet
        if not self.connected_publisher:
            self.dropped_while_down += 1
            return
        try:
            data = encode_envelope(mode, self.node_name, target, topic, dispatcher, message)
        except TypeError as exc:
            self.undeliverable += 1
            logger.warning("cannot send %r to other nodes (not JSON-serialisable: %s); delivered locally only",
                           type(message).__name__, exc)
            return
        self.publisher.publish_nowait(self.channel, data)

    def statistics(self) -> dict[str, Any]:
        st = self.publisher.statistics()
        return {
            "adapter": "redis",
            "node_name": self.node_name,
            "url": parse_redis_url(self.url).url,
            "publisher_connected": self.connected_publisher,
            "subscriber_connected": self.connected_subscriber,
            "reconnects": self.reconnects,
            "published": st.published,
            "queued": st.queued,
            "dropped": st.dropped + self.dropped_while_down,
            "failed": st.failed,
            "received": self.received,
            "undeliverable": self.undeliverable,
            "last_error": self.last_error,
        }

    # -- supervised process ------------------------------------------------------------------

    def child_spec(self, pubsub: str) -> otp.ChildSpec:
        """The adapter process for the PubSub named ``pubsub`` (pass as ``adapter_spec``).

        Its start waits (up to ``startup_timeout``) until both connections are up, so that
        an endpoint that says it is listening also receives other nodes' broadcasts. If
        Redis is not reachable by then, the node starts anyway (local delivery works) and
        the adapter keeps reconnecting.
        """
        self.pubsub = pubsub

        async def start() -> otp.Pid:
            first = not self._started
            self._started = True
            self._ready = trio.Event()
            pid = otp.spawn_link(self._main, name=f"{pubsub}.Adapter")
            if not first:
                return pid  # a restart must not hold the PubSub supervisor up
            with trio.move_on_after(self.startup_timeout):
                await self._ready.wait()
            if not self._ready.is_set():
                logger.warning("Redis at %s is not reachable yet; %s starts without its cluster "
                               "(local delivery works; the adapter keeps reconnecting)", self.url, pubsub)
            return pid

        return otp.ChildSpec(id="adapter", start=start, behaviour="PubSub.RedisAdapter")

    async def _main(self) -> None:
        me = otp.current_process()
        assert me is not None
        me.behaviour = "PubSub.RedisAdapter"
        me.summary = self.statistics
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._publisher_loop)
                nursery.start_soon(self._subscriber_loop)
        finally:
            self.connected_publisher = False
            self.connected_subscriber = False

    async def _backoff(self, attempt: int) -> None:
        await trio.sleep(min(5.0, 0.1 * (2 ** min(attempt, 6))))

    async def _publisher_loop(self) -> None:
        attempt = 0
        while True:
            try:
                async with await open_redis_connection(self.url) as conn:
                    self.connected_publisher = True
                    self._check_ready()
                    if attempt:
                        logger.info("Redis publisher for %s reconnected to %s", self.pubsub, self.url)
                    attempt = 0
                    await self.publisher.run(conn)
            except (RedisConnectionError, RedisError, OSError) as exc:
                self._down("publisher", exc, attempt)
            self.connected_publisher = False
            attempt += 1
            self.reconnects += 1
            await self._backoff(attempt)

    async def _subscriber_loop(self) -> None:
        attempt = 0
        me_pubsub = self.pubsub
        while True:
            try:
                sub = await open_redis_subscriber(self.url, channels=[self.channel])
                try:
                    self.connected_subscriber = True
                    self._check_ready()
                    if attempt:
                        logger.info("Redis subscriber for %s reconnected to %s", me_pubsub, self.url)
                    attempt = 0
                    async for _channel, data in sub:
                        self._on_message(data)
                finally:
                    with trio.CancelScope(shield=True):
                        await sub.aclose()
            except (RedisConnectionError, RedisError, OSError) as exc:
                self._down("subscriber", exc, attempt)
            self.connected_subscriber = False
            attempt += 1
            self.reconnects += 1
            await self._backoff(attempt)

    def _check_ready(self) -> None:
        if self.connected_publisher and self.connected_subscriber:
            self._ready.set()

    def _down(self, which: str, exc: BaseException, attempt: int) -> None:
        self.last_error = f"{which}: {exc}"
        if attempt == 0:
            logger.error("Redis %s for %s lost its connection to %s: %s; reconnecting with backoff "
                         "(local delivery continues)", which, self.pubsub, self.url, exc)

    def _on_message(self, data: bytes) -> None:
        try:
            env = orjson.loads(data)
            if env.get("v") != ENVELOPE_VERSION:
                return
            mode, origin, target = env["mode"], env["node"], env.get("target")
            if (mode == "except" and origin != self.node_name) or (mode == "only" and target == self.node_name):
                self.received += 1
                deliver_remote(self.pubsub, env["topic"], decode_message(env["msg"]), env["dispatcher"])
        except Exception:
            logger.exception("dropping a malformed or undeliverable message from Redis channel %r", self.channel)

"""What clients see when the redis-server process dies, and reconnecting to a new one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
import trio.testing

from channels.pubsub._redis import (
    RedisConnectionError,
    RedisPublisher,
    open_redis_connection,
    open_redis_subscriber,
)
from tests.support.redis_server import RedisServer, start_redis_server


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of this test's own, since the test kills it."""
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


async def test_killed_server_makes_subscriber_raise_connection_error_promptly_then_reconnects(
    own_server: RedisServer,
) -> None:
    sub = await open_redis_subscriber(own_server.url, channels=["c"])
    with trio.fail_after(5), pytest.RaisesGroup(RedisConnectionError):

        async def consume() -> None:
            async for _ in sub:
                pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            own_server.kill()
    await sub.aclose()

    own_server.restart()
    async with (
        await open_redis_subscriber(own_server.url, channels=["c"]) as sub2,
        await open_redis_connection(own_server.url) as conn,
    ):
        assert await conn.publish("c", "again") == 1
        assert await sub2.get_message() == (b"c", b"again")


async def test_killed_server_makes_commands_and_publisher_raise_connection_error(
    own_server: RedisServer,
) -> None:
    conn = await open_redis_connection(own_server.url)
    publisher = RedisPublisher()
    own_server.kill()
    with pytest.raises(RedisConnectionError):
        await conn.execute("PING")
    publisher.publish_nowait("c", "x")
    with pytest.raises(RedisConnectionError):
        await publisher.run(conn)
    await conn.aclose()
    with pytest.raises(RedisConnectionError, match="could not connect"):
        await open_redis_connection(own_server.url)
    own_server.restart()
    async with await open_redis_connection(own_server.url) as conn2:
        assert await conn2.execute("PING") == b"PONG"

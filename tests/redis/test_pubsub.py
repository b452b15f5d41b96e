"""RedisSubscriber and RedisPublisher against a real redis-server."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from channels.pubsub._redis import (
    RedisConnection,
    RedisConnectionError,
    RedisPublisher,
    RedisPublisherStatistics,
    open_redis_connection,
    open_redis_subscriber,
)


async def test_subscriber_receives_messages_published_after_subscribe_returns_in_order(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    async with await open_redis_subscriber(redis_url, channels=[channel]) as sub:
        assert sub.channels == {channel.encode()}
        for i in range(100):
            assert await redis.publish(channel, b"m%d" % i) == 1
        received = [await sub.get_message() for _ in range(100)]
    assert received == [(channel.encode(), b"m%d" % i) for i in range(100)]


async def test_pattern_subscription_yields_the_concrete_channel(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    async with await open_redis_subscriber(redis_url, patterns=[channel + ":*"]) as sub:
        await redis.publish(channel + ":a", "x")
        await redis.publish(channel + ":b", "y")
        received = [await sub.get_message(), await sub.get_message()]
    assert received == [(f"{channel}:a".encode(), b"x"), (f"{channel}:b".encode(), b"y")]


async def test_unsubscribed_channel_is_no_longer_delivered(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    a, b = channel + ":a", channel + ":b"
    async with await open_redis_subscriber(redis_url, channels=[a, b]) as sub:
        await sub.unsubscribe(a)
        assert sub.channels == {b.encode()}
        assert await redis.publish(a, "dropped") == 0
        await redis.publish(b, "kept")
        assert await sub.get_message() == (b.encode(), b"kept")


async def test_subscribe_from_another_task_while_iterating(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    a, b = channel + ":a", channel + ":b"
    got: list[tuple[bytes, bytes]] = []
    async with await open_redis_subscriber(redis_url, channels=[a]) as sub:

        async def consume() -> None:
            async for message in sub:
                got.append(message)
                if len(got) == 2:
                    return

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            await sub.subscribe(b)  # the consumer is blocked reading the same socket
            await redis.publish(a, "1")
            await redis.publish(b, "2")
    assert got == [(a.encode(), b"1"), (b.encode(), b"2")]


async def test_iteration_ends_after_aclose(redis_url: str, channel: str) -> None:
    sub = await open_redis_subscriber(redis_url, channels=[channel])
    got = []

    async def consume() -> None:
        async for message in sub:
            got.append(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        await sub.aclose()
    assert got == []


async def test_subscribe_needs_a_name(redis_url: str) -> None:
    async with await open_redis_subscriber(redis_url) as sub:
        with pytest.raises(ValueError, match="at least one"):
            await sub.subscribe()


async def test_publisher_pipelines_a_burst_of_10000_publishes_received_in_order(
    redis_url: str, channel: str
) -> None:
    n = 10_000
    publisher = RedisPublisher(max_batch=1000)
    for i in range(n):
        assert publisher.publish_nowait(channel, b"%d" % i)
    assert publisher.statistics().queued == n
    received: list[bytes] = []
    async with (
        await open_redis_subscriber(redis_url, channels=[channel]) as sub,
        await open_redis_connection(redis_url) as conn,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(publisher.run, conn)
        await publisher.wait_flushed()
        while len(received) < n:
            received.append((await sub.get_message())[1])
        nursery.cancel_scope.cancel()
    assert received == [b"%d" % i for i in range(n)]
    assert publisher.statistics() == RedisPublisherStatistics(
        queued=0,
        in_flight=0,
        published=n,
        dropped=0,
        failed=0,
        batches=n // 1000,
        peak_queued=n,
        receivers=n,
    )


async def test_publisher_writes_at_once_when_idle_and_batches_what_piles_up_beyond_that(
    redis_url: str, channel: str
) -> None:
    publisher = RedisPublisher()
    async with await open_redis_connection(redis_url) as conn, trio.open_nursery() as nursery:
        await nursery.start(publisher.run, conn)
        publisher.publish_nowait(channel, "first")  # the connection is idle: written at once
        assert publisher.statistics().direct == 1
        for i in range(50):
            publisher.publish_nowait(channel, str(i))
        await publisher.wait_flushed()
        nursery.cancel_scope.cancel()
    stats = publisher.statistics()
    # 32 written directly (their replies unread), the rest of the burst pipelined in one batch.
    assert (stats.published, stats.direct, stats.batches) == (51, 32, 1)


async def test_publisher_drops_new_messages_when_the_buffer_is_full(channel: str) -> None:
    publisher = RedisPublisher(max_buffer=10)
    accepted = [publisher.publish_nowait(channel, "x") for _ in range(15)]
    assert accepted == [True] * 10 + [False] * 5
    stats = publisher.statistics()
    assert (stats.queued, stats.dropped) == (10, 5)


async def test_publisher_keeps_its_buffer_across_a_lost_connection(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    publisher = RedisPublisher()
    async with await open_redis_subscriber(redis_url, channels=[channel]) as sub:
        doomed = await open_redis_connection(redis_url)
        await redis.execute("CLIENT", "KILL", "ID", await doomed.execute("CLIENT", "ID"))  # type: ignore[arg-type]
        publisher.publish_nowait(channel, "lost")
        with pytest.raises(RedisConnectionError):
            await publisher.run(doomed)
        await doomed.aclose()
        publisher.publish_nowait(channel, "kept")  # queued while disconnected
        async with await open_redis_connection(redis_url) as conn, trio.open_nursery() as n:
            await n.start(publisher.run, conn)
            await publisher.wait_flushed()
            n.cancel_scope.cancel()
        assert await sub.get_message() == (channel.encode(), b"kept")
    stats = publisher.statistics()
    assert (stats.failed, stats.published, stats.queued) == (1, 1, 0)


async def test_only_one_publisher_run_at_a_time(redis_url: str) -> None:
    publisher = RedisPublisher()
    async with await open_redis_connection(redis_url) as conn, trio.open_nursery() as nursery:
        await nursery.start(publisher.run, conn)
        with pytest.raises(RuntimeError, match="already running"):
            await publisher.run(conn)
        nursery.cancel_scope.cancel()


async def test_subscriber_ping_waits_for_the_pong_between_messages(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    async with await open_redis_subscriber(redis_url, channels=[channel]) as sub:
        await redis.publish(channel, "before")
        with trio.fail_after(5):
            await sub.ping()
        assert await sub.get_message() == (channel.encode(), b"before")

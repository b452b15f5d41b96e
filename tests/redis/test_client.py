"""RedisConnection against a real redis-server: commands, pipelining, errors, URL parsing."""

from __future__ import annotations

import socket
from functools import partial

import pytest
import trio
import trio.testing

from channels.pubsub._redis import (
    InvalidRedisURL,
    RedisAddress,
    RedisConnection,
    RedisConnectionError,
    RedisError,
    encode_command,
    open_redis_connection,
    parse_redis_url,
)

# -- URL parsing and encoding (no server) --------------------------------------


def test_url_defaults_to_port_6379_and_db_0() -> None:
    assert parse_redis_url("redis://localhost") == RedisAddress("localhost", 6379, 0)


def test_url_carries_port_db_and_password() -> None:
    assert parse_redis_url("redis://:s%40cret@10.0.0.1:7000/3") == RedisAddress(
        "10.0.0.1", 7000, 3, None, "s@cret"
    )


def test_url_with_username_and_password_uses_acl_auth() -> None:
    addr = parse_redis_url("redis://alice:pw@h:1/0")
    assert (addr.username, addr.password) == ("alice", "pw")


def test_url_with_bare_userinfo_is_a_password() -> None:
    addr = parse_redis_url("redis://secret@h")
    assert (addr.username, addr.password) == (None, "secret")


def test_url_accepts_bracketed_ipv6_host() -> None:
    addr = parse_redis_url("redis://[::1]:6380")
    assert (addr.host, addr.port) == ("::1", 6380)
    assert addr.url == "redis://[::1]:6380/0"


def test_url_hides_password_when_printed() -> None:
    assert parse_redis_url("redis://:pw@h/1").url == "redis://:***@h:6379/1"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://h", "scheme"),
        ("redis://", "no host"),
        ("redis://h/db1", "database must be a number"),
        ("redis://h:99999", "Port out of range"),
        ("redis://h?db=1", "query"),
    ],
)
def test_invalid_url_raises_invalid_redis_url_naming_the_problem(url: str, complaint: str) -> None:
    with pytest.raises(InvalidRedisURL, match=complaint):
        parse_redis_url(url)


def test_command_encodes_as_resp2_array_of_bulk_strings() -> None:
    assert encode_command(["SET", b"k\r\n", 12, "é"]) == (
        b"*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n12\r\n$2\r\n\xc3\xa9\r\n"
    )


def test_command_rejects_bool_and_unknown_types_and_empty() -> None:
    with pytest.raises(TypeError, match="booleans"):
        encode_command(["SET", "k", True])
    with pytest.raises(TypeError, match="cannot send"):
        encode_command(["SET", "k", object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="at least one"):
        encode_command([])


# -- against the server ----------------------------------------------------------


async def test_execute_returns_status_bulk_integer_nil_and_array_replies(
    redis: RedisConnection, channel: str
) -> None:
    key = channel
    assert await redis.execute("SET", key, "v") == b"OK"
    assert await redis.execute("GET", key) == b"v"
    assert await redis.execute("GET", key + ":missing") is None
    assert await redis.execute("INCR", key + ":n") == 1
    assert await redis.execute("RPUSH", key + ":l", "a", b"b", 3) == 3
    assert await redis.execute("LRANGE", key + ":l", 0, -1) == [b"a", b"b", b"3"]


async def test_error_reply_raises_redis_error_and_connection_stays_usable(
    redis: RedisConnection, channel: str
) -> None:
    await redis.execute("SET", channel, "text")
    with pytest.raises(RedisError, match="WRONGTYPE") as info:
        await redis.execute("LPUSH", channel, "x")
    assert info.value.message.startswith("WRONGTYPE")
    assert await redis.execute("PING") == b"PONG"
    assert not redis.broken


async def test_pipeline_returns_one_reply_per_command_in_order(
    redis: RedisConnection, channel: str
) -> None:
    replies = await redis.execute_many([("INCR", channel)] * 50 + [("GET", channel)])
    assert replies == [*range(1, 51), b"50"]
    assert await redis.execute_many([]) == []


async def test_pipeline_error_is_raised_after_all_replies_are_read(
    redis: RedisConnection, channel: str
) -> None:
    cmds = [("SET", channel, "s"), ("INCR", channel), ("GET", channel)]
    with pytest.raises(RedisError, match="not an integer"):
        await redis.execute_many(cmds)
    # The remaining replies were consumed: the next command gets its own reply.
    assert await redis.execute("ECHO", "next") == b"next"


async def test_pipeline_can_return_errors_in_place(redis: RedisConnection, channel: str) -> None:
    cmds = [("SET", channel, "s"), ("INCR", channel), ("GET", channel)]
    replies = await redis.execute_many(cmds, raise_on_error=False)
    assert replies[0] == b"OK"
    assert isinstance(replies[1], RedisError)
    assert replies[2] == b"s"


async def test_concurrent_tasks_each_get_their_own_reply(redis: RedisConnection) -> None:
    results: dict[int, object] = {}

    async def echo(i: int) -> None:
        results[i] = await redis.execute("ECHO", i)

    async with trio.open_nursery() as nursery:
        for i in range(100):
            nursery.start_soon(echo, i)
    assert results == {i: str(i).encode() for i in range(100)}


async def test_cancelled_command_reply_is_discarded_before_the_next_command(
    redis: RedisConnection, redis_url: str, channel: str
) -> None:
    with trio.CancelScope() as scope:

        async def cancel_when_blocked() -> None:
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_when_blocked)
            await redis.execute("BLPOP", channel, 0)  # blocks server-side until a push
    async with await open_redis_connection(redis_url) as other:
        await other.execute("LPUSH", channel, "late")
    # The BLPOP reply arrives now and must not be taken for the PING reply.
    assert await redis.execute("PING") == b"PONG"


async def test_publish_returns_the_number_of_receivers(
    redis: RedisConnection, channel: str
) -> None:
    assert await redis.publish(channel, b"nobody listens") == 0


async def test_url_db_selects_the_database(redis_url: str, channel: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    async with await open_redis_connection(base + "/3") as db3:
        await db3.execute("SET", channel, "in-3")
        async with await open_redis_connection(base + "/0") as db0:
            assert await db0.execute("GET", channel) is None
        assert await db3.execute("GET", channel) == b"in-3"


async def test_url_username_and_password_authenticate(
    redis: RedisConnection, redis_url: str
) -> None:
    await redis.execute("ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all")
    try:
        host_port = redis_url.removeprefix("redis://")
        async with await open_redis_connection(f"redis://alice:pw@{host_port}") as conn:
            assert await conn.execute("ACL", "WHOAMI") == b"alice"
        with pytest.raises(RedisError, match="WRONGPASS"):
            await open_redis_connection(f"redis://alice:wrong@{host_port}")
    finally:
        await redis.execute("ACL", "DELUSER", "alice")


async def test_refused_connect_raises_redis_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RedisConnectionError, match="could not connect"):
        await open_redis_connection(f"redis://127.0.0.1:{port}")


async def test_silent_server_makes_connect_time_out(autojump_clock: trio.testing.MockClock) -> None:
    with socket.socket() as s:  # accepts (backlog) but never answers AUTH
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(RedisConnectionError, match="within 5 s"):
            await open_redis_connection(f"redis://:pw@127.0.0.1:{port}", connect_timeout=5)


async def test_killed_client_connection_raises_connection_error_every_time(
    redis: RedisConnection, redis_url: str
) -> None:
    async with await open_redis_connection(redis_url) as victim:
        client_id = await victim.execute("CLIENT", "ID")
        await redis.execute("CLIENT", "KILL", "ID", client_id)  # type: ignore[arg-type]
        with pytest.raises(RedisConnectionError):
            await victim.execute("PING")
        assert victim.broken
        with pytest.raises(RedisConnectionError, match="failed earlier"):
            await victim.execute("PING")


async def test_closed_connection_raises_connection_error(redis_url: str) -> None:
    conn = await open_redis_connection(redis_url)
    await conn.aclose()
    await conn.aclose()  # idempotent
    with pytest.raises(RedisConnectionError, match="closed"):
        await conn.execute("PING")


async def test_protocol_violation_raises_connection_error() -> None:
    async def garbage(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(b"?this is not RESP\r\n")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, garbage, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        async with await open_redis_connection(f"redis://127.0.0.1:{port}") as conn:
            with pytest.raises(RedisConnectionError, match="protocol error"):
                await conn.execute("PING")
        nursery.cancel_scope.cancel()

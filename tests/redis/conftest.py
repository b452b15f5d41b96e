"""Fixtures: one real redis-server for the session, connections to it, unique channels."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from channels.pubsub._redis import RedisConnection, open_redis_connection
from tests.support.redis_server import RedisServer, start_redis_server

_counter = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisConnection]:
    conn = await open_redis_connection(redis_url, connect_timeout=5)
    async with conn:
        yield conn


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    """A channel name no other test uses."""
    return f"test:{request.node.name}:{next(_counter)}"

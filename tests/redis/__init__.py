"""Tests of the Redis client (channels._redis) against a real redis-server."""

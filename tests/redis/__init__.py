"""Tests of the Redis client (channels.pubsub._redis) against a real redis-server."""

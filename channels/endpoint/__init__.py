"""The endpoint: the supervision tree that listens, accepts, routes HTTP requests to socket
mounts, and starts pub/sub, presence, the connection supervisors and the drainer."""

from __future__ import annotations

from ._endpoint import (
    DrainerOptions as DrainerOptions,
    Endpoint as Endpoint,
    HTTPHandler as HTTPHandler,
    Route as Route,
    SocketMount as SocketMount,
)

"""The opt-in HTTP publish route: ``POST`` broadcasts from backends that are not Python.

``Endpoint(publish_token=...)`` (or the ``OTP_CHANNELS_PUBLISH_TOKEN`` environment
variable) mounts ``POST /_channels/broadcast`` (``publish_path``)::

    curl -X POST http://127.0.0.1:4000/_channels/broadcast \\
         -H "authorization: Bearer $TOKEN" -H "content-type: application/json" \\
         -d '{"topic": "room:lobby", "event": "new_msg", "payload": {"body": "hi"}}'

The body is one broadcast or a JSON array of them; each is ``endpoint.broadcast(topic,
event, payload)`` (``payload`` defaults to ``{}``), so it reaches every node of the
cluster. Answers: 202 ``{"broadcasts": n}``; 401 for a missing or wrong token; 400 for a
body that is not such JSON; 405 for other methods. To disconnect a user's sockets,
broadcast ``{"topic": "<socket id>", "event": "disconnect"}``.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson

from ..http import BodyReader, HTTPRequestError, Request, Response

__all__ = ["DEFAULT_PUBLISH_PATH", "PUBLISH_TOKEN_ENV", "publish_route"]

logger = logging.getLogger("channels.endpoint.publish")

#: Where the publish route is mounted unless ``publish_path`` says otherwise.
DEFAULT_PUBLISH_PATH: Final = "/_channels/broadcast"
#: The environment variable read when ``Endpoint(publish_token=None)``.
PUBLISH_TOKEN_ENV: Final = "OTP_CHANNELS_PUBLISH_TOKEN"
#: The largest request body accepted (bytes).
MAX_PUBLISH_BODY: Final = 1 << 20

_JSON = [("content-type", "application/json")]


def _error(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, [*_JSON, *(extra or [])], orjson.dumps({"error": message}))


def _broadcasts(data: Any) -> list[tuple[str, str, Any]] | str:
    items = data if isinstance(data, list) else [data]
    out: list[tuple[str, str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            return "each broadcast is an object with topic, event and payload"
        topic, event = item.get("topic"), item.get("event")
        if not isinstance(topic, str) or not topic or not isinstance(event, str) or not event:
            return "topic and event must be non-empty strings"
        out.append((topic, event, item.get("payload", {})))
    return out


def publish_route(broadcast: Callable[[str, str, Any], None], token: str, path: str = DEFAULT_PUBLISH_PATH
                  ) -> tuple[str, Callable[[Request, BodyReader], Awaitable[Response]]]:
    """The ``(path, handler)`` of a publish route calling ``broadcast`` (``endpoint.broadcast``)."""
    expected = f"Bearer {token}".encode()

    async def handler(request: Request, body: BodyReader) -> Response:
        if request.path != path:
            return Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")
        if request.method != "POST":
            return _error(405, "use POST", [("allow", "POST")])
        given = (request.header("authorization") or "").encode("latin-1")
        if not hmac.compare_digest(given, expected):
            logger.debug("publish route: refused a request from %s (missing or wrong bearer token)", request.peer)
            return _error(401, "missing or wrong bearer token", [("www-authenticate", 'Bearer realm="channels"')])
        try:
            raw = await body.read(MAX_PUBLISH_BODY)
        except HTTPRequestError as exc:
            return _error(exc.status, str(exc))
        try:
            parsed = _broadcasts(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            return _error(400, f"the body is not JSON: {exc}")
        if isinstance(parsed, str):
            return _error(400, parsed)
        for topic, event, payload in parsed:
            broadcast(topic, event, payload)
        return Response(202, _JSON, orjson.dumps({"broadcasts": len(parsed)}))

    return path, handler

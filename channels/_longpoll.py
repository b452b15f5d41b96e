"""The long-poll transport (not implemented yet: answers 404)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import otp

from ._http import BodyReader, Request, Response

if TYPE_CHECKING:
    from ._endpoint import Endpoint, SocketMount


def longpoll_children(endpoint: Endpoint) -> list[otp.ChildSpec]:
    return []


async def handle_longpoll(endpoint: Endpoint, mount: SocketMount, request: Request, body: BodyReader,
                          path_params: Mapping[str, Any]) -> Response:
    return Response(404)

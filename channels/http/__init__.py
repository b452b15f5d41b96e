"""HTTP/1.1 for the endpoint: the h11 connection driver, routing, static files, connect policy.

This package does not depend on ``otp``: the endpoint's connection process calls
:func:`serve_http` with a handler. Public names are re-exported by ``channels``.
"""

from __future__ import annotations

from ._policy import (
    AUTH_TOKEN_PREFIX as AUTH_TOKEN_PREFIX,
    LONGPOLL_HEADERS as LONGPOLL_HEADERS,
    URI as URI,
    CheckOrigin as CheckOrigin,
    InvalidAuthToken as InvalidAuthToken,
    build_connect_info as build_connect_info,
    check_origin as check_origin,
    extract_auth_token as extract_auth_token,
    longpoll_bad_request as longpoll_bad_request,
    longpoll_preflight as longpoll_preflight,
    longpoll_response as longpoll_response,
    parse_subprotocols as parse_subprotocols,
    parse_uri as parse_uri,
    parse_vsn as parse_vsn,
    select_subprotocol as select_subprotocol,
    validate_check_origin as validate_check_origin,
    validate_connect_info as validate_connect_info,
)
from ._request import (
    Address as Address,
    BadRequest as BadRequest,
    HTTPRequestError as HTTPRequestError,
    Request as Request,
)
from ._response import Response as Response, StreamingResponse as StreamingResponse, Upgrade as Upgrade
from ._routing import PathPattern as PathPattern, RouteMatch as RouteMatch, Router as Router
from ._server import (
    BodyReader as BodyReader,
    ClientDisconnected as ClientDisconnected,
    Handler as Handler,
    HTTPLimits as HTTPLimits,
    PrefixedStream as PrefixedStream,
    RequestBodyTooLarge as RequestBodyTooLarge,
    RequestHeadersTooLarge as RequestHeadersTooLarge,
    RequestTimeout as RequestTimeout,
    ResponseAborted as ResponseAborted,
    ResponseWriter as ResponseWriter,
    UpgradeError as UpgradeError,
    serve_http as serve_http,
    stream_addresses as stream_addresses,
)
from ._static import StaticFiles as StaticFiles

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "URI",
    "Address",
    "BadRequest",
    "BodyReader",
    "CheckOrigin",
    "ClientDisconnected",
    "HTTPLimits",
    "HTTPRequestError",
    "Handler",
    "InvalidAuthToken",
    "LONGPOLL_HEADERS",
    "PathPattern",
    "PrefixedStream",
    "Request",
    "RequestBodyTooLarge",
    "RequestHeadersTooLarge",
    "RequestTimeout",
    "Response",
    "ResponseAborted",
    "ResponseWriter",
    "RouteMatch",
    "Router",
    "StaticFiles",
    "StreamingResponse",
    "Upgrade",
    "UpgradeError",
    "build_connect_info",
    "check_origin",
    "extract_auth_token",
    "longpoll_bad_request",
    "longpoll_preflight",
    "longpoll_response",
    "parse_subprotocols",
    "parse_uri",
    "parse_vsn",
    "select_subprotocol",
    "serve_http",
    "stream_addresses",
    "validate_check_origin",
    "validate_connect_info",
]

"""Pure request policy Phoenix applies before a socket connects: origin, subprotocols, token.

Everything here is a pure function of a :class:`~channels.http.Request` (or of
plain strings) and configuration; nothing does I/O. The rules follow
``Phoenix.Socket.Transport`` (``check_origin/5``, ``check_subprotocols/2``,
``connect_info/4``), ``Phoenix.Transports.WebSocket`` (the auth token carried in
``sec-websocket-protocol``, ``vsn``) and websock_adapter's upgrade validation.

Examples:
    >>> check_origin("https://app.ex.com", ["//*.ex.com"], endpoint_host="localhost")
    True
    >>> check_origin("https://prefix-ex.com", ["//*.ex.com"], endpoint_host="localhost")
    False
    >>> extract_auth_token(["phoenix, base64url.bearer.phx.c2VjcmV0"])
    ('secret', ['phoenix'])
    >>> select_subprotocol(["phoenix"], ["phoenix"])
    (True, 'phoenix')
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, Literal, TypeAlias

from ._request import Request
from ._response import Response

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "LONGPOLL_HEADERS",
    "CheckOrigin",
    "InvalidAuthToken",
    "URI",
    "build_connect_info",
    "validate_connect_info",
    "check_origin",
    "extract_auth_token",
    "longpoll_bad_request",
    "longpoll_preflight",
    "longpoll_response",
    "parse_subprotocols",
    "parse_uri",
    "parse_vsn",
    "select_subprotocol",
    "validate_check_origin",
]

#: The ``sec-websocket-protocol`` entry prefix that carries the auth token.
AUTH_TOKEN_PREFIX = "base64url.bearer.phx."

#: Elixir's ``URI.default_port/1`` table.
_DEFAULT_PORTS = {
    "ftp": 21,
    "sftp": 22,
    "tftp": 69,
    "http": 80,
    "https": 443,
    "ldap": 389,
    "ws": 80,
    "wss": 443,
}

_URI_RE = re.compile(r"^(([a-z][a-z0-9+\-.]*):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?", re.I | re.S)
_AUTHORITY_RE = re.compile(r"^((.*)@)?(\[[a-zA-Z0-9:.]*\]|[^:]*)(:(\d*))?", re.S)


@dataclass(frozen=True, slots=True, kw_only=True)
class URI:
    """A parsed URI, field for field like Elixir's ``%URI{}``.

    ``host`` is ``None`` when there is no authority or it has no host;
    ``port`` is filled from the scheme's default port when absent.
    """

    scheme: str | None = None
    userinfo: str | None = None
    host: str | None = None
    port: int | None = None
    path: str | None = None
    query: str | None = None
    fragment: str | None = None
    authority: str | None = None


def parse_uri(text: str) -> URI:
    """Parse *text* the way Elixir's ``URI.parse/1`` does (RFC 3986 appendix B).

    The scheme is lowercased and its default port filled in (``http`` → 80,
    ``https`` → 443); ``"//host"`` has no scheme and no port; ``"null"``,
    ``""`` and ``"file://"`` have no host.
    """
    match = _URI_RE.match(text)
    assert match is not None  # the regex matches every string
    scheme = match.group(2).lower() if match.group(2) else None
    authority = match.group(4)
    userinfo = host = None
    port: int | None = None
    if authority:
        auth = _AUTHORITY_RE.match(authority)
        assert auth is not None
        userinfo = auth.group(2) or None
        raw_host = auth.group(3)
        host = raw_host.lstrip("[").rstrip("]") if raw_host else None
        port = int(auth.group(5)) if auth.group(5) else None
    if port is None and scheme is not None:
        port = _DEFAULT_PORTS.get(scheme)
    return URI(
        scheme=scheme,
        userinfo=userinfo,
        host=host or None,
        port=port,
        path=match.group(5) or None,
        query=match.group(7) if match.group(6) else None,
        fragment=match.group(9) if match.group(8) else None,
        authority=authority if match.group(3) else None,
    )


#: A ``check_origin`` configuration: ``True`` (same host as the endpoint),
#: ``False`` (any), a list of allowed origins (``"https://x.com"``, ``"//x.com:88"``,
#: ``"//*.x.com"``), ``"conn"`` (same scheme, host and port as the request), or a
#: callable taking the origin's :class:`URI` (Phoenix's MFA).
CheckOrigin: TypeAlias = bool | Literal["conn"] | Sequence[str] | Callable[[URI], bool]


def validate_check_origin(policy: CheckOrigin) -> None:
    """Check a ``check_origin`` configuration at startup, as Phoenix does.

    Raises:
        ValueError: A listed origin has no host (``"example.com"`` without ``//``
            parses as a path), or the policy has an unsupported type.
    """
    if isinstance(policy, bool) or policy == "conn" or callable(policy):
        return
    if isinstance(policy, str):
        raise ValueError(
            f':check_origin expects a boolean, list of hosts, "conn", or a callable, got {policy!r}'
        )
    for origin in policy:
        _parse_allowed_origin(origin)


def _parse_allowed_origin(origin: str) -> URI:
    uri = parse_uri(origin)
    if uri.host is None:
        raise ValueError(
            f"invalid check_origin entry {origin!r}. Expected an origin with a host, "
            'for example: ["https://example.com", "//another.com:888", "//other.com"]'
        )
    return uri


def check_origin(
    origin: str | None,
    policy: CheckOrigin,
    *,
    endpoint_host: str | None,
    request_scheme: str | None = None,
    request_host: str | None = None,
    request_port: int | None = None,
) -> bool:
    """Whether a request with this ``origin`` header may connect (Phoenix ``check_origin``).

    Args:
        origin: The first ``origin`` request header, or ``None`` if absent.
        policy: See :data:`CheckOrigin`.
        endpoint_host: The endpoint's configured URL host (``None`` allows any
            host under ``policy=True``, as Phoenix's ``compare?`` does).
        request_scheme: The request's scheme, for ``policy="conn"``.
        request_host: The request's host (``Host`` header, no port), for ``"conn"``.
        request_port: The request's port (``Host`` port or the scheme default), for ``"conn"``.

    Returns:
        True when the origin is absent, the policy is ``False``, or the origin
        satisfies the policy. An origin without a host (``"null"``, ``""``,
        ``"file://"``) is rejected by every policy except a callable.

    Raises:
        ValueError: A listed allowed origin has no host.
    """
    if origin is None or policy is False:
        return True
    uri = parse_uri(origin)
    if callable(policy):
        return bool(policy(uri))
    if policy == "conn":
        return uri.host == request_host and uri.scheme == request_scheme and uri.port == request_port
    if uri.host is None:
        return False
    if policy is True:
        return endpoint_host is None or uri.host == endpoint_host
    if isinstance(policy, str):
        raise ValueError(f"unsupported check_origin policy {policy!r}")
    return any(_origin_matches(uri, _parse_allowed_origin(allowed)) for allowed in policy)


def _origin_matches(uri: URI, allowed: URI) -> bool:
    return (
        (allowed.scheme is None or uri.scheme == allowed.scheme)
        and (allowed.port is None or uri.port == allowed.port)
        and _host_matches(uri.host or "", allowed.host)
    )


def _host_matches(host: str, allowed: str | None) -> bool:
    if allowed is None:
        return True
    if allowed.startswith("*."):
        base = allowed[2:]
        return host == base or host.endswith("." + base)
    return host == allowed


def _plug_list(value: str) -> list[str]:
    """``Plug.Conn.Utils.list/1``: split on commas, trim, drop empty entries."""
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_subprotocols(header_values: Sequence[str]) -> list[str] | None:
    """The subprotocols of the FIRST ``sec-websocket-protocol`` header, or ``None`` if absent.

    Phoenix reads only the first header (``[header | _]``), split on commas.
    """
    if not header_values:
        return None
    return _plug_list(header_values[0])


def select_subprotocol(
    requested: Sequence[str] | None, configured: Sequence[str] | None
) -> tuple[bool, str | None]:
    """Choose the response subprotocol (Phoenix ``check_subprotocols/2``).

    Args:
        requested: The client's subprotocols (:func:`parse_subprotocols`), or
            ``None`` when the request has no ``sec-websocket-protocol`` header.
        configured: The transport's ``subprotocols`` option, or ``None``.

    Returns:
        ``(ok, chosen)``. With nothing configured, or no header, the request is
        accepted without a response header (``chosen`` is ``None``). Otherwise the
        FIRST configured subprotocol that the client requested is chosen; if none
        matches, ``ok`` is False and the answer must be 403.
    """
    if configured is None or requested is None:
        return True, None
    for candidate in configured:
        if candidate in requested:
            return True, candidate
    return False, None


class InvalidAuthToken(ValueError):
    """The ``base64url.bearer.phx.`` subprotocol entry is not valid unpadded base64.

    Phoenix crashes the request on this (``Base.decode64!``); answer 400 or 403.
    """


def extract_auth_token(
    sec_websocket_protocol_values: Sequence[str],
) -> tuple[str | None, list[str] | None]:
    """Take the auth token out of the ``sec-websocket-protocol`` header.

    The JS client sends ``phoenix, base64url.bearer.phx.<b64>`` where ``<b64>`` is
    STANDARD base64 (``btoa``) with the ``=`` padding removed. As Phoenix does, only
    the first header is read, and the token is taken only when exactly one entry
    has the prefix; that entry is then removed from the protocols.

    Args:
        sec_websocket_protocol_values: Every ``sec-websocket-protocol`` header value.

    Returns:
        ``(token, remaining)``: the decoded token (UTF-8) or ``None``, and the
        subprotocols to use from now on, ``None`` meaning "no header" (it was
        absent, or the token was its only entry; Phoenix deletes it then).

    Raises:
        InvalidAuthToken: The token is not valid base64 or not UTF-8.
    """
    protocols = parse_subprotocols(sec_websocket_protocol_values)
    if protocols is None:
        return None, None
    tokens = [p for p in protocols if p.startswith(AUTH_TOKEN_PREFIX)]
    if len(tokens) != 1:
        return None, protocols
    remaining = [p for p in protocols if not p.startswith(AUTH_TOKEN_PREFIX)]
    token = _decode_base64_unpadded(tokens[0][len(AUTH_TOKEN_PREFIX) :])
    return token, remaining or None


def _decode_base64_unpadded(encoded: str) -> str:
    """``Base.decode64!(encoded, padding: false)``: padding optional, standard alphabet."""
    stripped = encoded[:-2] if encoded.endswith("==") else encoded.removesuffix("=")
    if len(stripped) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9+/]*", stripped):
        raise InvalidAuthToken(f"auth token is not valid base64: {encoded!r}")
    if "=" in encoded and len(encoded) % 4 != 0:
        raise InvalidAuthToken(f"auth token has invalid base64 padding: {encoded!r}")
    try:
        raw = base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - checked above
        raise InvalidAuthToken(f"auth token is not valid base64: {encoded!r}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidAuthToken("auth token is not UTF-8 text") from exc


_CONNECT_INFO_KEYS = frozenset(
    {
        "peer_data",
        "trace_context_headers",
        "x_headers",
        "uri",
        "user_agent",
        "sec_websocket_headers",
        "auth_token",
    }
)


def validate_connect_info(keys: Iterable[str | tuple[str, Any]]) -> None:
    """Check a transport's ``connect_info`` option before anything is served.

    Raises:
        ValueError: An unknown key, or ``session`` (Phoenix's ``{:session, config}`` reads
            the Plug session cookie; there is no Plug session here).
    """
    for key in keys:
        name = key[0] if isinstance(key, tuple) and len(key) == 2 else key
        if name == "session":
            raise ValueError("connect_info key 'session' is not supported: there is no Plug session "
                             "(cookie and CSRF token) here; read what you need from x_headers or params")
        if isinstance(key, tuple):
            if len(key) != 2 or not isinstance(key[0], str):
                raise ValueError(f"a custom connect_info entry is a (key, value) pair, got {key!r}")
        elif key not in _CONNECT_INFO_KEYS:
            raise ValueError(f"unsupported connect_info key {key!r} (expected one of "
                             f"{', '.join(sorted(_CONNECT_INFO_KEYS))}, or a (key, value) pair)")


def build_connect_info(
    request: Request,
    keys: Iterable[str | tuple[str, Any]],
    *,
    auth_token: str | None = None,
    subprotocols: list[str] | EllipsisType | None = ...,
) -> dict[str, Any]:
    """Build the ``connect_info`` map handed to the socket's ``connect`` (Phoenix ``connect_info/4``).

    Args:
        request: The connect request.
        keys: The transport's ``connect_info`` option: any of ``"peer_data"``
            (``{"address", "port", "ssl_cert"}``), ``"uri"`` (a :class:`URI` of the
            request: scheme, host, port, raw path, query), ``"user_agent"``,
            ``"x_headers"``, ``"sec_websocket_headers"``, ``"trace_context_headers"``
            (lists of ``(name, value)``), ``"auth_token"``, or ``(key, value)``
            pairs passed through unchanged.
        auth_token: The token from :func:`extract_auth_token` (WebSocket) or the
            ``x-phoenix-authtoken`` header (long-poll), for the ``"auth_token"`` key.
        subprotocols: When given (after :func:`extract_auth_token`), the first
            ``sec-websocket-protocol`` header as ``sec_websocket_headers`` reports
            it is replaced by these entries joined with ``", "`` (or removed for
            ``None``/``[]``), as Phoenix rewrites the request header.

    Raises:
        ValueError: An unknown key (``{:session, ...}`` is not supported).
    """
    headers = list(request.headers)
    if not isinstance(subprotocols, EllipsisType):
        headers = _replace_first_header(
            headers, "sec-websocket-protocol", ", ".join(subprotocols) if subprotocols else None
        )
    info: dict[str, Any] = {}
    for key in keys:
        if isinstance(key, tuple):
            name, value = key
            info[name] = value
            continue
        if key not in _CONNECT_INFO_KEYS:
            raise ValueError(f"unsupported connect_info key {key!r}")
        if key == "peer_data":
            address, port = request.peer if request.peer else (None, None)
            info[key] = {"address": address, "port": port, "ssl_cert": None}
        elif key == "uri":
            info[key] = URI(
                scheme=request.scheme,
                host=request.host,
                port=request.port,
                path=request.raw_path,
                query=request.query_string,
                authority=request.host,
            )
        elif key == "user_agent":
            info[key] = request.header("user-agent")
        elif key == "x_headers":
            info[key] = [(n, v) for n, v in headers if n.startswith("x-")]
        elif key == "sec_websocket_headers":
            info[key] = [(n, v) for n, v in headers if n.startswith("sec-websocket-")]
        elif key == "trace_context_headers":
            info[key] = [(n, v) for n, v in headers if n in ("traceparent", "tracestate")]
        else:  # auth_token
            info[key] = auth_token
    return info


def _replace_first_header(
    headers: list[tuple[str, str]], name: str, value: str | None
) -> list[tuple[str, str]]:
    for index, (key, _) in enumerate(headers):
        if key == name:
            if value is None:
                return headers[:index] + headers[index + 1 :]
            return [*headers[:index], (name, value), *headers[index + 1 :]]
    return headers if value is None else [*headers, (name, value)]


def parse_vsn(query_params: Sequence[tuple[str, str]]) -> str | None:
    """The requested serializer version: the ``vsn`` param, ``"1.0.0"`` if absent.

    Returns ``None`` when ``vsn`` is not a plain string (``vsn[]=1`` or
    ``vsn[k]=1`` make it a list or map in Plug): connect must then fail with 403.
    With repeated ``vsn`` the last wins.
    """
    vsn: str | None = "1.0.0"
    for key, value in query_params:
        if key == "vsn":
            vsn = value
        elif key.startswith("vsn["):
            return None
    return vsn


#: Headers on every long-poll response (§4.2): never cached, readable cross-origin.
LONGPOLL_HEADERS: tuple[tuple[str, str], ...] = (
    ("cache-control", "no-store"),
    ("access-control-allow-origin", "*"),
)


def longpoll_response(body: bytes) -> Response:
    """A long-poll answer: HTTP 200 with the JSON *body* (logical status inside it).

    Carries ``content-type: application/json; charset=utf-8``, ``cache-control:
    no-store`` and ``access-control-allow-origin: *``. Build *body* with
    ``channels.protocol.encode_longpoll_response``.
    """
    return Response(200, [("content-type", "application/json; charset=utf-8"), *LONGPOLL_HEADERS], body)


def longpoll_preflight(request: Request) -> Response:
    """The answer to a long-poll ``OPTIONS`` (CORS preflight): HTTP 200, empty body.

    ``access-control-allow-headers`` echoes the ``access-control-request-headers``
    (all values joined with ``", "``), methods are ``get, post, options`` and the
    preflight may be cached for an hour.
    """
    return Response(
        200,
        [
            *LONGPOLL_HEADERS,
            (
                "access-control-allow-headers",
                ", ".join(request.header_values("access-control-request-headers")),
            ),
            ("access-control-allow-methods", "get, post, options"),
            ("access-control-max-age", "3600"),
        ],
    )


def longpoll_bad_request() -> Response:
    """The answer to a long-poll request with a method other than GET, POST or OPTIONS: 400, empty."""
    return Response(400, list(LONGPOLL_HEADERS))

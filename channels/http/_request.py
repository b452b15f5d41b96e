"""The HTTP request value: one parsed request head, its target split and decoded.

A :class:`Request` is built by the connection driver from h11's ``Request`` event
and handed to the handler; it never does I/O. The body is read separately with
:class:`channels.http.BodyReader`.

Examples:
    >>> req = Request.build(
    ...     method="GET",
    ...     target="/socket/websocket?token=a&vsn=2.0.0&token=b",
    ...     headers=[("Host", "example.com:4000")],
    ... )
    >>> req.path, req.query_dict()["token"], req.host, req.port
    ('/socket/websocket', 'b', 'example.com', 4000)
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Address", "BadRequest", "HTTPRequestError", "Request"]

#: A ``(host, port)`` socket address.
Address = tuple[str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class HTTPRequestError(Exception):
    """A request the client got wrong; the driver answers it with :attr:`status`.

    Handlers may raise any subclass; :func:`channels.http.serve_http` then sends
    an empty response with that status, closes the connection and logs the cause
    once at INFO.
    """

    #: The HTTP status the driver answers with.
    status: int = 400


class BadRequest(HTTPRequestError):
    """The request is malformed (bad target, bad percent-encoding, bad framing)."""

    status = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One HTTP request head, parsed.

    Attributes:
        method: The method, e.g. ``"GET"``.
        target: The raw request target as sent (not decoded), e.g. ``"/a%20b?x=1"``.
        raw_path: The target's path without the query, still percent-encoded.
        path: ``raw_path`` percent-decoded (UTF-8).
        query_string: The raw query string after ``?`` (``""`` if none).
        query_params: The decoded query parameters in order, duplicates kept.
        headers: ``(lowercase name, value)`` pairs in order, decoded as Latin-1.
        raw_headers: The header pairs with their original name casing, as bytes
            (used to replay the request head on an upgrade).
        http_version: ``"1.1"`` or ``"1.0"``.
        keep_alive: Whether the connection may carry another request after this one.
        peer: The client's ``(host, port)``, if known.
        local: The server's ``(host, port)``, if known.
        scheme: ``"http"`` or ``"https"``.
    """

    method: str
    target: str
    raw_path: str
    path: str
    query_string: str
    query_params: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    http_version: str = "1.1"
    keep_alive: bool = True
    peer: Address | None = None
    local: Address | None = None
    scheme: str = "http"

    @classmethod
    def build(
        cls,
        *,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]] | Iterable[tuple[bytes, bytes]] = (),
        http_version: str = "1.1",
        keep_alive: bool = True,
        peer: Address | None = None,
        local: Address | None = None,
        scheme: str = "http",
    ) -> Request:
        """Build a request from its parts, splitting and decoding the target.

        Raises:
            BadRequest: The target is not origin-, absolute- or asterisk-form, or
                its path or query is not valid percent-encoded UTF-8.
        """
        raw: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            if isinstance(name, str):
                assert isinstance(value, str)
                raw.append((name.encode("latin-1"), value.encode("latin-1")))
            else:
                assert isinstance(value, bytes)
                raw.append((name, value))
        decoded = tuple((name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw)
        raw_path, query_string = _split_target(target)
        try:
            path = urllib.parse.unquote(raw_path, errors="strict")
            params = tuple(
                urllib.parse.parse_qsl(
                    query_string, keep_blank_values=True, errors="strict", max_num_fields=1000
                )
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"invalid percent-encoding in request target {target!r}") from exc
        return cls(
            method=method,
            target=target,
            raw_path=raw_path,
            path=path,
            query_string=query_string,
            query_params=params,
            headers=decoded,
            raw_headers=tuple(raw),
            http_version=http_version,
            keep_alive=keep_alive,
            peer=peer,
            local=local,
            scheme=scheme,
        )

    def header(self, name: str) -> str | None:
        """Return the first value of header *name* (case-insensitive), or ``None``."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        """Return every value of header *name* (case-insensitive), in order."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def query_dict(self) -> dict[str, str]:
        """Return the query parameters as a dict in which the LAST value of a key wins.

        The Phoenix JS long-poll client appends its own ``token`` after any user
        ``token`` parameter, and the last one must win (Plug does the same).
        """
        return dict(self.query_params)

    @property
    def path_segments(self) -> tuple[str, ...]:
        """The path split on ``/``, each segment percent-decoded, empty ones dropped.

        Decoding per segment keeps an encoded ``%2F`` inside its segment.
        """
        return tuple(urllib.parse.unquote(seg, errors="replace") for seg in self.raw_path.split("/") if seg)

    @property
    def host(self) -> str:
        """The host from the ``Host`` header (no port), else the local address, else ``""``."""
        host_header = self.header("host")
        if host_header:
            host, _ = _split_host_port(host_header)
            return host
        return self.local[0] if self.local else ""

    @property
    def port(self) -> int:
        """The port from the ``Host`` header, else the scheme's default port (like Plug)."""
        host_header = self.header("host")
        if host_header:
            _, port = _split_host_port(host_header)
            if port is not None:
                return port
        return _DEFAULT_PORTS.get(self.scheme, 80)


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query
    if target == "*":
        return "*", ""
    if "://" in target:
        split = urllib.parse.urlsplit(target)
        if split.scheme in ("http", "https") and split.netloc:
            return split.path or "/", split.query
    raise BadRequest(f"unsupported request target {target!r}")


def _split_host_port(value: str) -> tuple[str, int | None]:
    """Split a ``Host`` header value into host and optional port (IPv6 in brackets)."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end != -1:
            host, rest = value[1:end], value[end + 1 :]
            port = rest[1:] if rest.startswith(":") else ""
            return host, int(port) if port.isdigit() else None
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    if sep and not port:
        return host, None
    return value, None

"""Path patterns with ``:vars`` and a first-match router, as Phoenix mounts sockets.

A pattern is a ``/``-separated path whose segments are literals, ``:name``
variables (one whole segment) or, last, a ``*name`` glob (the rest of the path,
joined with ``/``). Matching is exact per segment; like Plug's ``path_info``, empty
segments are ignored, so a trailing slash (or ``//``) does not matter.

Examples:
    >>> pattern = PathPattern.compile("/socket/:tenant/websocket")
    >>> pattern.match("/socket/acme/websocket")
    {'tenant': 'acme'}
    >>> pattern.match("/socket/acme/websocket/") == {"tenant": "acme"}
    True
    >>> pattern.match("/socket/websocket") is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["PathPattern", "RouteMatch", "Router"]

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class _Segment:
    literal: str | None = None
    var: str | None = None


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled path pattern; build it with :meth:`compile`.

    Attributes:
        source: The pattern text it was compiled from.
        variables: The names of its ``:vars`` (and glob) in order.
    """

    source: str
    _segments: tuple[_Segment, ...]
    _glob: str | None
    variables: tuple[str, ...]

    @classmethod
    def compile(cls, pattern: str) -> PathPattern:
        """Compile *pattern*.

        Raises:
            ValueError: The pattern does not start with ``/``, has an empty
                variable name, repeats a variable, or has a glob before the end.
        """
        if not pattern.startswith("/"):
            raise ValueError(f"a path pattern must start with '/', got {pattern!r}")
        parts = [p for p in pattern.split("/") if p]
        segments: list[_Segment] = []
        glob: str | None = None
        names: list[str] = []
        for index, part in enumerate(parts):
            if part.startswith(("*", ":")):
                name = part[1:]
                if not name.isidentifier():
                    raise ValueError(f"invalid variable {part!r} in path pattern {pattern!r}")
                if name in names:
                    raise ValueError(f"variable {name!r} repeated in path pattern {pattern!r}")
                names.append(name)
                if part.startswith("*"):
                    if index != len(parts) - 1:
                        raise ValueError(f"a glob must be the last segment in {pattern!r}")
                    glob = name
                else:
                    segments.append(_Segment(var=name))
            else:
                segments.append(_Segment(literal=part))
        return cls(pattern, tuple(segments), glob, tuple(names))

    def match(self, path: str) -> dict[str, str] | None:
        """Match a (percent-decoded) *path*; return the variables, or ``None``.

        Empty segments are ignored (Plug splits ``path_info`` the same way), so
        ``/a/b/`` and ``/a//b`` match ``/a/b``.
        """
        if not path.startswith("/"):
            return None
        return self.match_segments([seg for seg in path.split("/") if seg])

    def match_segments(self, segments: Sequence[str]) -> dict[str, str] | None:
        """Match already split and decoded path segments (e.g. ``Request.path_segments``)."""
        fixed = len(self._segments)
        if len(segments) < fixed or (self._glob is None and len(segments) != fixed):
            return None
        params: dict[str, str] = {}
        for seg, value in zip(self._segments, segments, strict=False):
            if seg.var is not None:
                params[seg.var] = value
            elif seg.literal != value:
                return None
        if self._glob is not None:
            params[self._glob] = "/".join(segments[fixed:])
        return params


@dataclass(frozen=True, slots=True)
class RouteMatch(Generic[H]):
    """The result of :meth:`Router.match`: the handler and the path variables."""

    handler: H
    params: dict[str, str]
    pattern: PathPattern


class Router(Generic[H]):
    """Patterns mapped to handler objects; the first matching route wins.

    Examples:
        >>> router = Router([("/socket/:tenant/websocket", "ws"), ("/*path", "static")])
        >>> m = router.match("/socket/acme/websocket")
        >>> (m.handler, m.params)
        ('ws', {'tenant': 'acme'})
    """

    def __init__(self, routes: Iterable[tuple[str | PathPattern, H]] = ()) -> None:
        self._routes: list[tuple[PathPattern, H]] = []
        for pattern, handler in routes:
            self.add(pattern, handler)

    def add(self, pattern: str | PathPattern, handler: H) -> None:
        """Append a route (it matches after every route added before it)."""
        compiled = PathPattern.compile(pattern) if isinstance(pattern, str) else pattern
        self._routes.append((compiled, handler))

    @property
    def routes(self) -> list[tuple[PathPattern, H]]:
        """The routes in match order (a copy)."""
        return list(self._routes)

    def match(self, path: str | Sequence[str]) -> RouteMatch[H] | None:
        """Return the first route matching *path* (a path string or its segments)."""
        for pattern, handler in self._routes:
            params = pattern.match(path) if isinstance(path, str) else pattern.match_segments(path)
            if params is not None:
                return RouteMatch(handler, params, pattern)
        return None

"""A static file handler: GET/HEAD of files under a directory, plus extra mounted files.

Examples:
    >>> static = StaticFiles(
    ...     "priv/static",
    ...     files={"/js/phoenix.js": "node_modules/phoenix/priv/static/phoenix.js"},
    ... )

    then, in a handler, ``return await static(request, body)``.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import trio

from ._request import Request
from ._server import BodyReader, Response

__all__ = ["StaticFiles"]

_DEFAULT_CACHE_CONTROL = "public, max-age=0, must-revalidate"


class StaticFiles:
    """Serve files below *directory* for URL paths below *prefix*.

    * ``GET`` and ``HEAD`` only (anything else → 405 with ``allow``).
    * ``/`` and directories serve their ``index.html``.
    * ``content-type`` from the extension (``mimetypes``; text types get
      ``charset=utf-8``), ``cache-control``, and an ``etag`` built from size and
      mtime; a matching ``if-none-match`` gets 304.
    * Paths are resolved (symlinks too) and must stay under the root; anything
      else, missing files and unreadable files → 404.
    * *files* mounts single files at exact URL paths (checked first), e.g.
      ``{"/js/phoenix.js": ".../node_modules/phoenix/priv/static/phoenix.js"}``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None,
        prefix: str = "/",
        *,
        files: Mapping[str, str | os.PathLike[str]] | None = None,
        cache_control: str = _DEFAULT_CACHE_CONTROL,
        index: str = "index.html",
    ) -> None:
        self.root = Path(directory).resolve() if directory is not None else None
        self.prefix = "/" + prefix.strip("/")
        self.files = {path: Path(file) for path, file in (files or {}).items()}
        self.cache_control = cache_control
        self.index = index

    async def __call__(self, request: Request, body: BodyReader | None = None) -> Response:
        """Answer *request* (the body is ignored); usable directly as a handler."""
        return await self.respond(request)

    def handles(self, path: str) -> bool:
        """Whether *path* is a mounted file or lies under :attr:`prefix`."""
        return path in self.files or self._relative(path) is not None

    async def has_file(self, path: str) -> bool:
        """Whether *path* names a file that is served (a fallback app gets the other paths)."""
        found = await self._find(path)
        return found is not None and await trio.Path(found).is_file()

    async def respond(self, request: Request) -> Response:
        """Return the response for *request*."""
        if request.method not in ("GET", "HEAD"):
            return Response(405, [("allow", "GET, HEAD")])
        path = await self._find(request.path)
        if path is None:
            return Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")
        try:
            info = await trio.Path(path).stat()
            if not stat.S_ISREG(info.st_mode):
                raise FileNotFoundError(path)
            etag = f'"{info.st_size:x}-{info.st_mtime_ns:x}"'
            headers = [("etag", etag), ("cache-control", self.cache_control)]
            if _etag_matches(request.header_values("if-none-match"), etag):
                return Response(304, headers)
            data = await trio.Path(path).read_bytes()
        except OSError:
            return Response(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found")
        return Response(200, [("content-type", _content_type(path)), *headers], data)

    def _relative(self, path: str) -> str | None:
        if self.root is None:
            return None
        if self.prefix == "/":
            return path.lstrip("/")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :].lstrip("/")
        return None

    async def _find(self, path: str) -> Path | None:
        if path in self.files:
            return self.files[path]
        relative = self._relative(path)
        if relative is None or self.root is None or "\x00" in relative:
            return None
        target = await self._resolve_under_root(Path(self.root, relative))
        if target is not None and await trio.Path(target).is_dir():
            target = await self._resolve_under_root(target / self.index)
        return target

    async def _resolve_under_root(self, path: Path) -> Path | None:
        """Resolve *path* (following symlinks); None unless it stays under the root."""
        assert self.root is not None
        try:
            resolved = Path(await trio.Path(path).resolve())
        except (OSError, ValueError, RuntimeError):
            return None
        if resolved != self.root and not resolved.is_relative_to(self.root):
            return None
        return resolved


def _content_type(path: Path) -> str:
    kind, _ = mimetypes.guess_type(path.name)
    if kind is None:
        return "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        return f"{kind}; charset=utf-8"
    return kind


def _etag_matches(values: list[str], etag: str) -> bool:
    """Weak comparison of ``if-none-match`` against *etag* (``*`` matches anything)."""
    for value in values:
        for candidate in value.split(","):
            candidate = candidate.strip()
            if candidate == "*" or candidate.removeprefix("W/") == etag:
                return True
    return False

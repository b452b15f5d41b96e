"""TLS for the endpoint: the server context, and a bridge that gives fd-based transports a plain socket.

``Endpoint(ssl=...)`` takes an ``ssl.SSLContext`` or a ``(certfile, keyfile)`` pair of PEM
paths (``serve --certfile --keyfile``). Each accepted connection is wrapped in a
``trio.SSLStream`` by its own connection process, so a slow or failed handshake costs that
process and nothing else; HTTP (long-poll, static files, the upgrade request) runs over
that stream, and ``connect_info`` reports ``https``/``wss``.

The problem: the WebSocket and raw transports do not read through a stream. A transport
process waits for its socket's file descriptor and its mailbox at once
(``otp.Process.wait_readable``) and writes with ``os.write`` on the descriptor when its
outbox is empty (``SocketWriter``); that is what makes push->reply fast. Encrypted bytes on
that descriptor are useless to it.

Things that don't work: handing the ``SSLStream`` to the transport (it has no descriptor
to wait on, and a stream read in a cancel scope per message is the cost the transport
was written to avoid); decrypting inside the transport loop with ``ssl.MemoryBIO`` (it
would put TLS record handling into the WebSocket loop and the writer, the two hottest and
most delicate places, for a feature most deployments leave to a reverse proxy).

Solution: after the upgrade, :func:`open_tls_bridge` gives the transport one end of a
``socketpair``; two tasks of the connection process pump bytes between the other end and
the ``SSLStream`` (decrypt in, encrypt out). The transport code is the same for TLS and
plain TCP; TLS connections pay one extra local write and read per message in each
direction. EOF and close propagate both ways: the client's close_notify (or TCP EOF)
becomes EOF on the transport's socket, and the transport closing its socket ends the TLS
session with close_notify.

ALPN: the endpoint speaks HTTP/1.1 only, so its context offers exactly ``http/1.1``; a
client offering ``h2`` and ``http/1.1`` gets ``http/1.1``.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import trio

__all__ = ["ALPN_PROTOCOLS", "SSLOption", "open_tls_bridge", "server_context"]

logger = logging.getLogger("channels.tls")

#: What the endpoint negotiates with ALPN.
ALPN_PROTOCOLS = ["http/1.1"]

#: ``Endpoint(ssl=...)``: a context, or ``(certfile, keyfile)`` paths to PEM files.
SSLOption: TypeAlias = "ssl.SSLContext | tuple[str | os.PathLike[str], str | os.PathLike[str]]"

_CHUNK = 65536


def server_context(option: Any) -> ssl.SSLContext:
    """The server-side context for ``Endpoint(ssl=option)``, with ALPN set to http/1.1.

    A given ``SSLContext`` is used as it is, except that its ALPN protocols are set to
    ``http/1.1`` (the only protocol the endpoint speaks). A ``(certfile, keyfile)`` pair
    makes a context with the ``ssl`` module's server defaults (TLS 1.2 or later).

    Raises:
      ValueError: ``option`` is neither; or the files cannot be loaded (the message names
        them and the cause).
    """
    if isinstance(option, ssl.SSLContext):
        ctx = option
    elif isinstance(option, tuple | list) and len(option) == 2:
        certfile, keyfile = (os.fspath(p) for p in option)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the TLS certificate {certfile!r} and key {keyfile!r}: {exc}") from None
    else:
        raise ValueError(f"ssl= expects an ssl.SSLContext or a (certfile, keyfile) pair, got {option!r}")
    ctx.set_alpn_protocols(ALPN_PROTOCOLS)
    return ctx


async def _copy(source: trio.abc.ReceiveStream, sink: trio.abc.SendStream) -> None:
    """Copy ``source`` to ``sink`` until EOF or until either breaks."""
    try:
        while True:
            data = await source.receive_some(_CHUNK)
            if not data:
                return
            await sink.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return


@asynccontextmanager
async def open_tls_bridge(tls: trio.SSLStream[Any], *, close_timeout: float = 5.0
                          ) -> AsyncIterator[trio.SocketStream]:
    """A plain ``SocketStream`` whose peer is ``tls``: bytes are decrypted in and encrypted out.

    For the body's duration two tasks pump between the returned stream's peer and
    ``tls``. When the client ends the TLS session, the returned stream reads EOF; when the
    body ends (or the transport closes the stream), what was written is flushed to the
    client and the TLS session is closed (close_notify, at most ``close_timeout`` s).
    """
    ours, theirs = trio.socket.socketpair()
    pumped = trio.SocketStream(ours)
    given = trio.SocketStream(theirs)
    finished = trio.Event()
    inbound = trio.CancelScope()

    async def pump_in() -> None:
        with inbound:
            await _copy(tls, pumped)
            try:
                await pumped.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async def pump_out() -> None:
        try:
            await _copy(pumped, tls)
            inbound.cancel()
            with trio.move_on_after(close_timeout):
                await tls.aclose()
        finally:
            finished.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump_in)
        nursery.start_soon(pump_out)
        try:
            yield given
        finally:
            with trio.CancelScope(shield=True):
                await given.aclose()
                with trio.move_on_after(close_timeout):
                    await finished.wait()
                nursery.cancel_scope.cancel()
                await pumped.aclose()
                await trio.aclose_forcefully(tls)

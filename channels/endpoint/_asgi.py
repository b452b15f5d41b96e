"""ASGI 3 applications on the endpoint: HTTP requests no socket or static mount takes.

``Endpoint(asgi_app=app)`` passes every HTTP request that no socket mount, extra route or
static file takes to ``app`` (an ASGI 3 callable: FastAPI, Starlette, Django's ASGI
handler...), in the connection's process, on Trio (frameworks built on anyio run on
Trio as they are). The ``lifespan`` protocol runs in a process of the endpoint's tree,
``<name>.ASGI``: its startup completes before the endpoint listens, its shutdown runs
after the drain and after the listener has stopped.

What the adapter guarantees (ASGI spec 2.4, HTTP and lifespan scopes):

* request bodies are streamed to ``receive()`` as they arrive (``http.request`` events
  with ``more_body``); after the body, ``receive()`` waits until the response is done and
  then returns ``http.disconnect``;
* responses are streamed: the head goes out on ``http.response.start``, each
  ``http.response.body`` is written at once (chunked unless the app gives a
  ``content-length``);
* a bad app does not take the endpoint down: one that raises, sends messages out of order
  or does not start its response within ``response_timeout`` seconds is logged once
  (``channels.asgi`` logger, with the app and the request) and the client gets a 500 —
  or, once the head is out, a closed connection;
* an app without lifespan support (it raises on the lifespan scope) is logged at INFO and
  served without lifespan, as uvicorn does; a ``lifespan.startup.failed`` fails the
  endpoint's start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import trio

import otp

from ..http import BodyReader, ClientDisconnected, Request, ResponseAborted, ResponseWriter, StreamingResponse

__all__ = ["ASGIApp", "ASGIError", "LifespanStartupFailed", "asgi_lifespan_spec", "asgi_response"]

logger = logging.getLogger("channels.asgi")

Scope: TypeAlias = MutableMapping[str, Any]
ASGIMessage: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[ASGIMessage]]
Send: TypeAlias = Callable[[ASGIMessage], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

_ASGI = {"version": "3.0", "spec_version": "2.4"}


class ASGIError(RuntimeError):
    """The app broke the ASGI protocol (raised to the app by ``send``; logged)."""


def _app_name(app: object) -> str:
    return getattr(app, "__qualname__", None) or type(app).__qualname__


@dataclass(eq=False)
class _LifespanState:
    """Shared between the lifespan process and the requests (``scope["state"]``)."""

    state: dict[str, Any] = field(default_factory=dict)
    supported: bool = True


def _http_scope(request: Request, root_path: str, lifespan: _LifespanState | None) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": _ASGI,
        "http_version": request.http_version,
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": root_path,
        "headers": [(name.lower(), value) for name, value in request.raw_headers],
        "client": list(request.peer) if request.peer is not None else None,
        "server": list(request.local) if request.local is not None else None,
    }
    if lifespan is not None and lifespan.supported:
        scope["state"] = dict(lifespan.state)
    return scope


def asgi_response(app: ASGIApp, request: Request, body: BodyReader, *, response_timeout: float,
                  root_path: str = "", lifespan: _LifespanState | None = None) -> StreamingResponse:
    """The response of ``app`` to ``request``, streamed (see the module docs)."""

    async def write(writer: ResponseWriter) -> None:
        scope = _http_scope(request, root_path, lifespan)
        started = trio.Event()
        finished = trio.Event()
        problem: list[str] = []
        body_done = False

        async def receive() -> ASGIMessage:
            nonlocal body_done
            if not body_done:
                chunk = await body.read_chunk()
                if not chunk:
                    body_done = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                return {"type": "http.request", "body": chunk, "more_body": not body.finished}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: ASGIMessage) -> None:
            kind = message.get("type") if isinstance(message, MutableMapping) else None
            if kind == "http.response.start":
                if started.is_set():
                    raise ASGIError("http.response.start sent twice")
                status = message.get("status")
                if not isinstance(status, int) or not 100 <= status <= 999:
                    raise ASGIError(f"http.response.start with an invalid status {status!r}")
                headers = [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
                           for n, v in message.get("headers", ())]
                started.set()
                await writer.start(status, headers)
            elif kind == "http.response.body":
                if not started.is_set():
                    raise ASGIError("http.response.body sent before http.response.start")
                if finished.is_set():
                    raise ASGIError("http.response.body sent after the response ended")
                await writer.write(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    finished.set()
                    await writer.end()
            else:
                raise ASGIError(f"unexpected ASGI message {kind!r} for an HTTP request")

        async def watchdog(cancel: trio.CancelScope) -> None:
            with trio.move_on_after(response_timeout):
                await started.wait()
                return
            problem.append(f"did not start a response within {response_timeout} s")
            cancel.cancel()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watchdog, nursery.cancel_scope)
                await app(scope, receive, send)
                nursery.cancel_scope.cancel()
        except Exception as raised:
            exc: BaseException = raised
            while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]
            if isinstance(exc, ClientDisconnected):
                raise exc from None
            problem.append(f"raised {exc!r}")
            logger.error("ASGI app %s failed on %s %s: %s", _app_name(app), request.method, request.target,
                         problem[0], exc_info=exc)
            raise ResponseAborted() from None
        if problem:
            logger.error("ASGI app %s failed on %s %s: %s", _app_name(app), request.method, request.target,
                         problem[0])
            raise ResponseAborted()
        if not started.is_set():
            logger.error("ASGI app %s returned without a response to %s %s", _app_name(app), request.method,
                         request.target)
            raise ResponseAborted()
        if not finished.is_set():
            logger.error("ASGI app %s returned before the end of its response to %s %s", _app_name(app),
                         request.method, request.target)
            raise ResponseAborted()

    return StreamingResponse(write)


# -- lifespan ------------------------------------------------------------------------------


class LifespanStartupFailed(RuntimeError):
    """The app answered ``lifespan.startup.failed`` (or raised during startup)."""


def asgi_lifespan_spec(app: ASGIApp, name: str, state: _LifespanState, *,
                       timeout: float = 30.0) -> otp.ChildSpec:
    """The ``<name>`` process that runs the app's lifespan (startup on start, shutdown on stop)."""

    async def start() -> otp.Pid:
        ready = trio.Event()
        outcome: list[BaseException | None] = []
        pid = otp.spawn_link(_lifespan_main, app, state, ready, outcome, timeout, name=name, trap_exit=True)
        await ready.wait()
        if outcome and outcome[0] is not None:
            raise outcome[0]
        return pid

    return otp.ChildSpec(id="asgi", start=start, behaviour="ASGI.Lifespan", shutdown=timeout + 1.0)


async def _lifespan_main(app: ASGIApp, state: _LifespanState, ready: trio.Event,
                         outcome: list[BaseException | None], timeout: float) -> None:
    me = otp.current_process()
    assert me is not None
    me.behaviour = "ASGI.Lifespan"
    app_name = _app_name(app)
    me.summary = lambda: {"app": app_name, "lifespan": "on" if state.supported else "unsupported"}
    to_app_send, to_app = trio.open_memory_channel[ASGIMessage](2)
    from_app_send, from_app = trio.open_memory_channel[ASGIMessage](2)
    to_app_send.send_nowait({"type": "lifespan.startup"})

    async def receive() -> ASGIMessage:
        return await to_app.receive()

    async def send(message: ASGIMessage) -> None:
        await from_app_send.send(message)

    app_done = trio.Event()
    app_error: list[BaseException] = []

    async def run_app() -> None:
        scope: Scope = {"type": "lifespan", "asgi": _ASGI, "state": state.state}
        try:
            await app(scope, receive, send)
        except Exception as exc:
            app_error.append(exc)
        finally:
            app_done.set()
            from_app_send.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_app)
        with trio.move_on_after(timeout):
            try:
                reply = await from_app.receive()
            except trio.EndOfChannel:
                reply = None
        if reply is None or reply.get("type") not in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if app_done.is_set() and app_error and reply is None:
                # ASGI: an app that raises on the lifespan scope does not support it.
                logger.info("ASGI app %s does not support lifespan (%r); running without it",
                            app_name, app_error[0])
                state.supported = False
                outcome.append(None)
                ready.set()
                await otp.receive(otp.Exit)
                return
            outcome.append(LifespanStartupFailed(
                f"ASGI app {app_name}: no lifespan.startup.complete within {timeout} s (got {reply!r})"))
            ready.set()
            nursery.cancel_scope.cancel()
            return
        if reply["type"] == "lifespan.startup.failed":
            outcome.append(LifespanStartupFailed(f"ASGI app {app_name} failed to start: {reply.get('message', '')}"))
            ready.set()
            nursery.cancel_scope.cancel()
            return
        outcome.append(None)
        ready.set()
        await otp.receive(otp.Exit)  # the supervisor stops us: the endpoint is shutting down
        await to_app_send.send({"type": "lifespan.shutdown"})
        with trio.move_on_after(timeout):
            try:
                reply = await from_app.receive()
            except trio.EndOfChannel:
                reply = None
        if reply is None or reply.get("type") != "lifespan.shutdown.complete":
            logger.error("ASGI app %s: lifespan shutdown did not complete (%r)", app_name,
                         reply if reply is not None else (app_error[0] if app_error else "no answer"))
        nursery.cancel_scope.cancel()

"""A behaviour module for implementing the server of a client-server relation.

Example::

    class Counter(otp.GenServer[int]):
        async def init(self, start: int) -> otp.Ok[int]:
            return otp.Ok(start)

        async def handle_call(self, request, from_, state: int) -> otp.Reply[int]:
            match request:
                case "get":
                    return otp.Reply(state, state)
                case ("add", n):
                    return otp.Reply(state + n, state + n)
            raise ValueError(f"unknown request {request!r}")

    pid = await Counter.start_link(0, name="counter")
    await otp.call("counter", ("add", 2))   #=> 2

Callbacks are async methods that receive the state and return a small typed shape:
``Reply(value, state)``, ``NoReply(state)`` or ``Stop(reason, state)``. The runtime
validates every return and raises a ``BadReturnError`` that says what it expected.

When not to use a GenServer: if you don't need a process, you don't need a process.
Plain functions and data are faster; use a GenServer for state shared between
processes, for serialising access to a resource, or to get supervision.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, TypeVar, final

import trio
from trio.lowlevel import current_task, wait_task_rescheduled

from ._api import demonitor, monitor, open_mailbox
from ._child_spec import ChildSpec, Restart
from ._node import (
    _NO_MAILBOX,
    Dest,
    Process,
    ProcessExit,
    ReceiveTimeout,
    _current,
    current_node,
    current_process,
)
from ._types import KILLED, NOPROC, NORMAL, Down, Exit, ExitReason, Pid, Ref

__all__ = [
    "CALLING_SELF",
    "BadReturnError",
    "Call",
    "CallError",
    "CallTimeout",
    "Cast",
    "From",
    "GenServer",
    "Ignore",
    "Ignored",
    "NoReply",
    "Ok",
    "Reply",
    "StartError",
    "Stop",
    "TIMEOUT",
    "call",
    "cast",
    "reply",
    "stop",
]

logger = logging.getLogger("otp.gen_server")

S = TypeVar("S")

_NOTHING: Any = object()


# -- return shapes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ok(Generic[S]):
    """``init`` succeeded: ``{:ok, state}``, optionally ``{:continue, arg}`` or an idle timeout."""

    state: S
    continue_: Any = _NOTHING
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Ignore:
    """``init`` declines to start (``:ignore``): ``start_link`` raises ``Ignored``."""


@dataclass(frozen=True, slots=True)
class Reply(Generic[S]):
    """``{:reply, reply, state}``: answer the caller now."""

    reply: Any
    state: S
    continue_: Any = _NOTHING
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class NoReply(Generic[S]):
    """``{:noreply, state}``: no answer now (reply later with ``otp.reply``, or never)."""

    state: S
    continue_: Any = _NOTHING
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Stop(Generic[S]):
    """``{:stop, reason, [reply,] state}``: stop the server, replying first if given."""

    reason: ExitReason
    state: S
    reply: Any = _NOTHING

    @property
    def has_reply(self) -> bool:
        """Whether a reply was given (``Stop(reason, state, reply=...)``)."""
        return self.reply is not _NOTHING


@final
class _Timeout:
    __slots__ = ()

    def __repr__(self) -> str:
        return "otp.TIMEOUT"


#: The message ``handle_info`` gets when an idle timeout from ``NoReply(timeout=...)`` expires.
TIMEOUT = _Timeout()


# -- messages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class From:
    """Who to answer: the caller's pid and the call's reference. Pass it to ``otp.reply``."""

    pid: Pid
    ref: Ref


@dataclass(frozen=True, slots=True)
class Call:
    request: Any
    from_: From


@dataclass(frozen=True, slots=True)
class Cast:
    request: Any


@dataclass(frozen=True, slots=True)
class _CallReply:
    ref: Ref
    value: Any


@dataclass(frozen=True, slots=True)
class _CallTimedOut:
    """Sent by the node's timer service when a call's timeout passes."""

    ref: Ref


# -- errors ---------------------------------------------------------------------------------


class BadReturnError(TypeError):
    """A callback returned something other than the shapes it may return."""


class StartError(RuntimeError):
    """A server's ``init`` stopped it (``Stop``) or it died before finishing ``init``."""

    def __init__(self, server: str, reason: ExitReason) -> None:
        super().__init__(f"{server} failed to start: {reason!r}")
        self.reason = reason


class Ignored(Exception):
    """``init`` returned ``Ignore()``: nothing was started."""


class CallError(RuntimeError):
    """A ``call`` failed: the server was not alive, exited during the call, or timed out.

    Attributes ``server``, ``request``, ``timeout`` and ``reason`` say which call and why,
    as Elixir's ``exited in: GenServer.call(server, request, timeout)`` does.
    """

    def __init__(self, server: Dest, request: Any, timeout: float | None, reason: ExitReason) -> None:
        self.server = server
        self.request = request
        self.timeout = timeout
        self.reason = reason
        t = "infinity" if timeout is None else f"{timeout:g}"
        why = reason if isinstance(reason, str) else repr(reason)
        super().__init__(f"exited in: otp.call({server!r}, {request!r}, {t}): {why}")


class CallTimeout(CallError, TimeoutError):
    """A ``call`` got no reply within its timeout."""


# -- client API -----------------------------------------------------------------------------


async def call(server: Dest, request: Any, timeout: float | None = 5.0) -> Any:
    """Send ``request`` to a server and wait for its reply (default timeout 5 s).

    Works from processes and from plain Trio tasks (which get a temporary mailbox).

    Raises:
      CallError: the server is not alive, or it exited before replying (the exit reason
        is chained when it is an exception).
      CallTimeout: no reply within ``timeout`` seconds.
      CallError: the caller is the server itself (that would deadlock).
    """
    if timeout is not None and not (type(timeout) is float and timeout >= 0):
        _check_timeout(timeout)  # NaN and negative floats too
    me = _current.get()
    if me is None:
        async with open_mailbox():
            return await call(server, request, timeout)
    if not me.alive:
        raise ProcessExit(me.reason)  # this process has exited; its code runs on
    node = me.node
    target = node.resolve(server)
    if target is None:
        raise CallError(server, request, timeout, NOPROC)
    if target is me:
        # Erlang exits with {calling_self, {gen_server, call, ...}}: the reason is the term.
        raise CallError(server, request, timeout, CALLING_SELF)
    if me._waiting is not None or me._io_waiter is not None:
        me.refuse_second_waiter()  # before the request goes out: nothing left behind
    ref = Ref()
    me.monitors[ref] = target.pid
    target.monitored_by[ref] = me.pid
    pending = node._pending_calls
    pending.add(ref)
    start = len(me.mailbox)
    target.deliver(Call(request, From(me.pid, ref)))
    timer = None
    if timeout is not None and timeout > 0:
        # The timeout is a message from the node's timer heap, as gen_server's is a timer
        # of the runtime: far cheaper than a Trio cancel scope with a deadline.
        timed_out = _CallTimedOut(ref)
        timer = node._start_timeout(me, timeout, timed_out)
        timeout_left = None
    else:
        timeout_left = timeout
    try:
        msg = await me.receive(
            lambda m: (type(m) is _CallReply or type(m) is Down or type(m) is _CallTimedOut) and m.ref is ref,
            timeout_left,
            start,
        )
    except ReceiveTimeout:
        raise CallTimeout(server, request, timeout, "timeout") from None
    finally:
        if timer is not None and not node._stop_timeout(timer) and me.alive:
            # The timeout fired but another answer was taken first: drop its message.
            me.drop(lambda m: m is timed_out)
        pending.discard(ref)
        tpid = me.monitors.pop(ref, None)
        if tpid is not None:
            t = node.process(tpid)
            if t is not None:
                t.monitored_by.pop(ref, None)
        elif me.alive:
            # The server exited after replying and its Down is queued behind the reply:
            # drop it, as gen_server's demonitor(Mref, [flush]) does.
            me.drop(lambda m: type(m) is Down and m.ref is ref)
    if type(msg) is _CallTimedOut:
        raise CallTimeout(server, request, timeout, "timeout")
    if type(msg) is Down:
        reason = msg.reason
        if isinstance(reason, BaseException):
            raise CallError(server, request, timeout, reason) from reason
        raise CallError(server, request, timeout, reason)
    return msg.value


def _check_timeout(timeout: Any) -> None:
    """Refuse a bad timeout before anything is sent (Erlang: the call fails, the server is untouched)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")


def reply(from_: From, value: Any) -> None:
    """Answer a call later, from any process: the ``GenServer.reply/2`` of Elixir.

    A reply to a call that has already timed out is dropped (no stray message).
    """
    node = current_node()
    if from_.ref in node._pending_calls:
        proc = node.process(from_.pid)
        if proc is not None:
            proc.deliver(_CallReply(from_.ref, value))


def cast(server: Dest, request: Any) -> None:
    """Send an asynchronous request; never blocks, never fails (like ``GenServer.cast``)."""
    node = current_node()
    proc = node.resolve(server)
    if proc is not None:
        proc.deliver(Cast(request))


async def stop(server: Dest, reason: ExitReason = NORMAL, timeout: float | None = None) -> None:
    """Stop a server with ``reason``, running its ``terminate``, and wait until it is gone.

    Like Elixir's ``GenServer.stop/3`` it returns only once the process has exited (so a
    supervisor's children are stopped too), not when the request was taken.

    Raises:
      CallError: the server is not alive, or it exited with another reason (its
        ``terminate`` raised, or it was killed meanwhile).
      CallTimeout: it did not exit within ``timeout`` seconds (it keeps stopping).
    """
    if timeout is not None:
        _check_timeout(timeout)
    me = _current.get()
    if me is None:
        async with open_mailbox():
            return await stop(server, reason, timeout)
    if not me.alive:
        raise ProcessExit(me.reason)
    request = _StopRequest(reason)
    target = me.node.resolve(server)
    if target is None:
        raise CallError(server, request, timeout, NOPROC)
    if target is me:
        raise CallError(server, request, timeout, CALLING_SELF)
    if me._waiting is not None or me._io_waiter is not None:
        me.refuse_second_waiter()
    start = len(me.mailbox)
    ref = monitor(target.pid)
    target.deliver(Call(request, From(me.pid, ref)))
    try:
        down = await me.receive(lambda m: type(m) is Down and m.ref is ref, timeout, start)
    except ReceiveTimeout:
        demonitor(ref, flush=True)
        raise CallTimeout(server, request, timeout, "timeout") from None
    if down.reason is reason or down.reason == reason:
        return
    if isinstance(down.reason, BaseException):
        raise CallError(server, request, timeout, down.reason) from down.reason
    raise CallError(server, request, timeout, down.reason)


#: The reason of the ``CallError`` raised when a process calls (or stops) itself, a call
#: that could only deadlock: Erlang's ``calling_self``.
CALLING_SELF: Final = "calling_self"


@dataclass(frozen=True, slots=True)
class _StopRequest:
    reason: ExitReason


# -- behaviour --------------------------------------------------------------------------------


class GenServer(Generic[S]):
    """Subclass and implement ``init`` plus the ``handle_*`` callbacks you need.

    One instance is created per started process, so instance attributes are private to
    that process; the *state* passed to and returned from callbacks is what Elixir code
    would hold, and what introspection shows (through ``format_status``).
    """

    #: Whether the process traps exits. Set True for servers that must run
    #: ``terminate`` when their supervisor shuts them down.
    trap_exit: ClassVar[bool] = False
    #: How introspection names the behaviour (default: the class name).
    behaviour_name: ClassVar[str | None] = None

    async def init(self, arg: Any) -> Ok[S] | Ignore | Stop[S]:
        raise NotImplementedError(f"{type(self).__qualname__} must implement init/1")

    async def handle_call(self, request: Any, from_: From, state: S) -> Reply[S] | NoReply[S] | Stop[S]:
        raise RuntimeError(f"{type(self).__qualname__} received an unexpected call: {request!r}")

    async def handle_cast(self, request: Any, state: S) -> NoReply[S] | Stop[S]:
        raise RuntimeError(f"{type(self).__qualname__} received an unexpected cast: {request!r}")

    async def handle_info(self, msg: Any, state: S) -> NoReply[S] | Stop[S]:
        logger.warning(
            "%s %s received an unexpected message in handle_info: %r",
            type(self).__qualname__,
            current_process(),
            msg,
        )
        return NoReply(state)

    async def handle_continue(self, arg: Any, state: S) -> NoReply[S] | Stop[S]:
        raise RuntimeError(f"{type(self).__qualname__} returned a continue but has no handle_continue")

    async def terminate(self, reason: ExitReason, state: S) -> None:
        """Called when the server stops (not when it is killed by an untrapped signal)."""

    def format_status(self, state: S) -> Any:
        """A short, JSON-friendly summary of ``state`` for introspection."""
        text = repr(state)
        return text if len(text) <= 200 else text[:197] + "..."

    # -- starting ------------------------------------------------------------------------

    @classmethod
    async def start_link(cls, arg: Any = None, *, name: str | None = None,
                         timeout: float | None = None) -> Pid:
        """Start the server linked to the calling process; return once ``init`` is done.

        Raises the exception ``init`` raised (the caller is unlinked first, so it is not
        killed by the failure), ``StartError`` for ``Stop``, ``Ignored`` for ``Ignore``.
        """
        return await _start(cls, arg, name=name, link=current_process() is not None, timeout=timeout)

    @classmethod
    async def start(cls, arg: Any = None, *, name: str | None = None,
                    timeout: float | None = None) -> Pid:
        """Start the server without a link."""
        return await _start(cls, arg, name=name, link=False, timeout=timeout)

    @classmethod
    def child_spec(cls, arg: Any = None, *, id: Hashable | None = None, name: str | None = None,
                   restart: Any = None, shutdown: Any = None) -> Any:
        """A ``ChildSpec`` that starts this server with ``start_link(arg, name=name)``."""
        async def start() -> Pid:
            return await cls.start_link(arg, name=name)

        kw: dict[str, Any] = {}
        if restart is not None:
            kw["restart"] = restart
        if shutdown is not None:
            kw["shutdown"] = shutdown
        else:
            kw.setdefault("restart", Restart.PERMANENT)
        return ChildSpec(id=id if id is not None else (name or cls.__qualname__), start=start,
                         behaviour=cls.__qualname__, **kw)


class _Ack:
    __slots__ = ("done", "error", "pid")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()

    def ok(self) -> None:
        if not self.done.is_set():
            self.done.set()


async def _start(cls: type[GenServer[Any]], arg: Any, *, name: str | None, link: bool,
                 timeout: float | None) -> Pid:
    node = current_node()
    ack = _Ack()
    pid = node.spawn(_server_main, cls, arg, ack, name=name, link=link,
                     behaviour=cls.behaviour_name or cls.__qualname__,
                     trap_exit=cls.trap_exit)
    proc = node.process(pid)
    assert proc is not None
    label = name or f"{cls.__qualname__} {pid}"

    def on_exit(_p: Process, reason: ExitReason) -> None:
        ack.fail(StartError(label, reason))

    proc.add_exit_hook(on_exit)
    timed_out = False
    if timeout is None:
        await ack.done.wait()  # no cancel scope on the common path (a channel join starts one)
    else:
        with trio.move_on_after(timeout) as scope:
            await ack.done.wait()
        timed_out = scope.cancelled_caught
    if timed_out:
        me = current_process()
        if me is not None:
            me.remove_link(pid)
            proc.remove_link(me.pid)
        proc.kill(KILLED)
        raise StartError(label, "timeout")
    if ack.error is not None:
        raise ack.error
    # Started: the hook (and the ack it holds) is not needed for the rest of its life.
    proc.remove_exit_hook(on_exit)
    return pid


def _validate(owner: str, callback: str, result: Any, allowed: tuple[type, ...]) -> None:
    if type(result) not in allowed:
        callback = f"{owner}.{callback}"
        names = " | ".join(f"{t.__name__}(...)" for t in allowed)
        raise BadReturnError(f"expected {callback} to return one of {names}, got: {result!r}")


_CALL_RETURNS = (Reply, NoReply, Stop)
_INFO_RETURNS = (NoReply, Stop)
_INIT_RETURNS = (Ok, Ignore, Stop)


async def _server_main(cls: type[GenServer[Any]], arg: Any, ack: _Ack) -> None:
    me = _current.get()
    assert me is not None
    server = cls()
    parent = me.parent
    try:
        result = await server.init(arg)
        _validate(cls.__qualname__, "init", result, _INIT_RETURNS)
    except BaseException as exc:
        if isinstance(exc, Exception):
            # Fail the starter with the original error, and do not kill it through the link.
            _unlink_parent(me, parent)
            exc.add_note(f"while starting {cls.__qualname__} as {me.pid}")
            ack.fail(exc)
            # The starter gets the error and reports it (a supervisor logs it once, with
            # the child's id): not a crash of ours to log as well.
            me._pending_exit = exc
            raise ProcessExit(exc) from None
        raise
    if type(result) is Ignore:
        _unlink_parent(me, parent)
        ack.fail(Ignored(f"{cls.__qualname__}.init returned Ignore()"))
        return
    if type(result) is Stop:
        _unlink_parent(me, parent)
        ack.fail(StartError(me.name or f"{cls.__qualname__} {me.pid}", result.reason))
        raise ProcessExit(result.reason)
    assert type(result) is Ok
    ack.ok()
    loop = _Loop(server, me, parent, result)
    # This frame lives as long as the server: let go of the start argument, the ack and
    # init's result (the loop takes what it needs from it and drops the rest).
    del arg, ack, result
    await loop.run()


def _unlink_parent(me: Process, parent: Pid | None) -> None:
    if parent is not None and parent in me.links:
        me.remove_link(parent)
        p = me.node.process(parent)
        if p is not None:
            p.remove_link(me.pid)


@dataclass(slots=True)
class _Loop:
    server: GenServer[Any]
    me: Process
    parent: Pid | None
    first: Ok[Any] | None
    state: Any = None
    last: Any = field(default=_NOTHING)

    async def run(self) -> None:
        server = self.server
        me = self.me
        first = self.first
        assert first is not None
        self.first = None  # do not keep init's result (and its continue argument) alive
        self.state = first.state
        me.summary = self._summary
        me.crash_context = self._context
        cont = first.continue_
        timeout = first.timeout
        del first
        name = type(server).__qualname__
        try:
            while True:
                if cont is not _NOTHING:
                    self.last = ("continue", cont)
                    res = await server.handle_continue(cont, self.state)
                    _validate(name, "handle_continue", res, _INFO_RETURNS)
                    self.last = _NOTHING
                    if type(res) is Stop:
                        await self._stop(res)
                    self.state = res.state
                    cont, timeout = res.continue_, res.timeout  # type: ignore[union-attr]
                    continue
                if timeout is None:
                    # Process.receive(), inlined for the common case (every message of
                    # every GenServer): no coroutine per message.
                    mb = me.mailbox
                    while not mb:
                        if me._waiting is not None or me._io_waiter is not None:
                            me.refuse_second_waiter()
                        me._waiting = current_task()
                        await wait_task_rescheduled(me._abort)
                        mb = me.mailbox
                    msg = mb.popleft()
                    if not mb:
                        me.mailbox = _NO_MAILBOX  # give the deque back while idle
                else:
                    try:
                        msg = await me.receive(None, timeout)
                    except ReceiveTimeout:
                        msg = TIMEOUT
                self.last = msg
                t = type(msg)
                if t is Call:
                    if type(msg.request) is _StopRequest:
                        # otp.stop waits for our Down: no reply, it would come too early.
                        await self._stop(Stop(msg.request.reason, self.state))
                    cres = await server.handle_call(msg.request, msg.from_, self.state)
                    _validate(name, "handle_call", cres, _CALL_RETURNS)
                    if type(cres) is Reply:
                        reply(msg.from_, cres.reply)
                    elif type(cres) is Stop:
                        await self._stop(cres, from_=msg.from_)
                    self.state = cres.state
                    # The message and the reply were kept for a crash report only: not
                    # held while the server waits for the next message.
                    self.last = msg = _NOTHING
                    cont, timeout = cres.continue_, cres.timeout  # type: ignore[union-attr]
                    cres = _NOTHING
                    continue
                elif t is Cast:
                    res = await server.handle_cast(msg.request, self.state)
                    _validate(name, "handle_cast", res, _INFO_RETURNS)
                    if type(res) is Stop:
                        await self._stop(res)
                elif t is Exit and me.trap_exit and (
                    msg.pid is self.parent
                    or (msg.pid is me.node.pid and (self.parent is None or me.node.process(self.parent) is None))
                ):
                    # The parent (supervisor), or the node for a top-level server, asked
                    # us to stop: terminate, then exit. The exit comes from the signal, like
                    # a non-trapping process killed by it: not a crash of ours to report
                    # again (a failing terminate still is).
                    await self._terminate(msg.reason)
                    me._pending_exit = msg.reason
                    raise ProcessExit(msg.reason)
                else:
                    res = await server.handle_info(msg, self.state)
                    if type(res) is not NoReply:
                        _validate(name, "handle_info", res, _INFO_RETURNS)
                        if type(res) is Stop:
                            await self._stop(res)
                self.state = res.state
                self.last = msg = _NOTHING
                cont, timeout = res.continue_, res.timeout  # type: ignore[union-attr]
        except Exception as exc:
            # gen_server semantics: terminate runs for exceptions raised in callbacks.
            await self._terminate(exc)
            raise

    async def _stop(self, res: Stop[Any], from_: From | None = None) -> None:
        self.state = res.state
        if from_ is not None and res.reply is not _NOTHING:
            # gen_server.erl: terminate first, and the reply after it (even if it fails),
            # so a caller that gets the reply knows the server has cleaned up.
            try:
                await self._terminate(res.reason)
            finally:
                reply(from_, res.reply)
        else:
            await self._terminate(res.reason)
        raise ProcessExit(res.reason)

    async def _terminate(self, reason: ExitReason) -> None:
        try:
            await self.server.terminate(reason, self.state)
        except Exception as exc:
            if isinstance(reason, BaseException):
                exc.__context__ = reason
            raise ProcessExit(exc) from None

    def _summary(self) -> Any:
        return self.server.format_status(self.state)

    def _context(self) -> str:
        last = self.last
        text = "" if last is _NOTHING else f"Last message: {last!r}\n"
        return f"{text}State: {self.server.format_status(self.state)}"

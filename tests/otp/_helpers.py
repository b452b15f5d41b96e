"""Small processes and servers the otp tests share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

import otp


class Boom(Exception):
    """The exception test processes crash with."""


async def wait_down(ref: otp.Ref, *, timeout: float = 10) -> otp.Down:
    """Receive the ``Down`` of monitor ``ref`` in the current process."""
    msg: otp.Down = await otp.receive(lambda m: isinstance(m, otp.Down) and m.ref is ref, timeout=timeout)
    return msg


async def stop_and_wait(pid: otp.Pid, reason: Any = otp.KILL) -> Any:
    """Send ``reason`` to ``pid`` and wait for it to exit; return its exit reason."""
    ref = otp.monitor(pid)
    otp.exit(pid, reason)
    return (await wait_down(ref)).reason


async def sleeper() -> None:
    """A process that waits forever."""
    await trio.sleep_forever()


async def echo() -> None:
    """Reply ``("echo", msg)`` to every ``(pid, msg)`` it receives."""
    while True:
        sender, msg = await otp.receive()
        otp.send(sender, ("echo", msg))


async def crasher(exc: BaseException) -> None:
    """Crash at once with ``exc``."""
    raise exc


async def trapper(log: list[Any]) -> None:
    """Trap exits and record every message; exit when told ``"stop"``."""
    otp.trap_exit()
    while True:
        msg = await otp.receive()
        if msg == "stop":
            return
        log.append(msg)


@dataclass
class RState:
    tag: Any
    log: list[Any]
    data: dict[str, Any] = field(default_factory=dict)


class Recorder(otp.GenServer[RState]):
    """A server that records its lifecycle in a shared list and obeys simple requests.

    ``arg`` is ``(tag, log)``; it traps exits so that a supervisor's shutdown runs
    ``terminate``, which logs ``("terminate", tag, reason)``.
    """

    trap_exit = True

    async def init(self, arg: Any) -> otp.Ok[RState]:
        tag, log = arg
        log.append(("init", tag))
        return otp.Ok(RState(tag, log))

    async def handle_call(self, request: Any, from_: otp.From, state: RState) -> Any:
        match request:
            case "ping":
                return otp.Reply(("pong", state.tag), state)
            case "pid":
                return otp.Reply(otp.self(), state)
            case ("call", target, req):
                return otp.Reply(await otp.call(target, req), state)
            case "crash":
                raise Boom(f"{state.tag} crashed in a call")
        raise AssertionError(request)

    async def handle_cast(self, request: Any, state: RState) -> Any:
        match request:
            case "crash":
                raise Boom(f"{state.tag} crashed")
            case ("stop", reason):
                return otp.Stop(reason, state)
        raise AssertionError(request)

    async def handle_info(self, msg: Any, state: RState) -> Any:
        state.log.append(("info", state.tag, msg))
        return otp.NoReply(state)

    async def terminate(self, reason: Any, state: RState) -> None:
        state.log.append(("terminate", state.tag, reason))
        on_terminate = state.data.get("on_terminate")
        if on_terminate is not None:
            await on_terminate()


def recorder_spec(tag: Any, log: list[Any], **kw: Any) -> otp.ChildSpec:
    """A child spec for a ``Recorder`` tagged ``tag``."""
    return otp.ChildSpec(id=tag, start=lambda: Recorder.start_link((tag, log)), **kw)


def terminated(log: list[Any]) -> list[Any]:
    """The tags of the ``terminate`` entries of ``log``, in order."""
    return [e[1] for e in log if e[0] == "terminate"]


def started(log: list[Any]) -> list[Any]:
    """The tags of the ``init`` entries of ``log``, in order."""
    return [e[1] for e in log if e[0] == "init"]

"""Stand-ins for the helper modules of the upstream supervisor suites, on our API.

``Child1`` plays OTP's ``supervisor_1`` test child (a gen_server that traps exits and
obeys ``die``, ``stop`` and ``{sleep, T}``); ``Script`` plays ``supervisor_deadlock`` and
Elixir's ``start_link(:restart, value)`` helpers: a start function whose later starts
fail or block on demand.
"""

from __future__ import annotations

from typing import Any

import trio

import otp

from .._helpers import wait_down


class Child1(otp.GenServer[Any]):
    """OTP's ``supervisor_1``: ``die`` exits ``died``, ``stop`` exits normal, ``("sleep", t)`` sleeps.

    It traps exits, so an exit signal from anyone but its supervisor arrives as a message;
    it then exits with that reason, as the process would without trapping.
    """

    trap_exit = True

    async def init(self, arg: Any) -> otp.Ok[Any]:
        return otp.Ok(arg)

    async def handle_call(self, request: Any, from_: otp.From, state: Any) -> Any:
        return otp.Reply(state, state)

    async def handle_info(self, msg: Any, state: Any) -> Any:
        match msg:
            case "die":
                return otp.Stop("died", state)
            case "stop":
                return otp.Stop(otp.NORMAL, state)
            case ("sleep", seconds):
                await trio.sleep(seconds)
            case otp.Exit(reason=reason) if reason != otp.NORMAL:
                # An exit signal from a process other than its supervisor: exit with it.
                return otp.Stop(reason, state)
        return otp.NoReply(state)


class Script:
    """A start function: ``ok`` starts a ``Child1``; ``ignore``, ``fail``; ``wait-X`` blocks first.

    ``plan`` is consumed one entry per start; after it, ``then`` is used for every start.
    """

    def __init__(self, *plan: str, then: str = "ok") -> None:
        self.plan = list(plan)
        self.then = then
        self.calls = 0
        self.gate = trio.Event()
        self.pids: list[otp.Pid] = []

    def release(self) -> None:
        gate, self.gate = self.gate, trio.Event()
        gate.set()

    async def __call__(self) -> otp.Pid | None:
        self.calls += 1
        action = self.plan.pop(0) if self.plan else self.then
        if action.startswith("wait-"):
            await self.gate.wait()
            action = action[5:]
        if action == "ignore":
            return None
        if action == "fail":
            raise RuntimeError(f"start #{self.calls} failed")
        pid = await Child1.start_link(self.calls)
        self.pids.append(pid)
        return pid


def child(id: Any, start: Any = None, **kw: Any) -> otp.ChildSpec:
    """``{Id, {supervisor_1, start_child, []}, Restart, 1000, worker, []}`` (1 s shutdown)."""
    kw.setdefault("shutdown", 1.0)
    return otp.ChildSpec(id=id, start=start if start is not None else Child1.start_link, **kw)


async def terminate(pid: otp.ChildPid, how: Any) -> Any:
    """The suite's ``terminate(Sup, Pid, Id, How)``: end a child and wait for its DOWN."""
    assert isinstance(pid, otp.Pid)
    ref = otp.monitor(pid)
    if how == "abnormal":
        otp.send(pid, "die")
    elif how == "normal":
        otp.send(pid, "stop")
    else:
        otp.exit(pid, how)
    return (await wait_down(ref)).reason


async def which(sup: Any) -> list[tuple[Any, otp.ChildPid]]:
    return [(cid, pid) for cid, pid, _, _ in await otp.Supervisor.which_children(sup)]


async def counts(sup: Any, dynamic: bool = False) -> list[int]:
    """``get_child_counts``: ``[specs, active, supervisors, workers]``."""
    fn = otp.DynamicSupervisor.count_children if dynamic else otp.Supervisor.count_children
    c = await fn(sup)
    return [c["specs"], c["active"], c["supervisors"], c["workers"]]


async def exit_of(pid: otp.Pid) -> Any:
    """``check_exit_reason(Pid, _)``: the reason of the ``Exit`` the (trapping) caller gets."""
    msg = await otp.receive(lambda m: isinstance(m, otp.Exit) and m.pid is pid, timeout=30)
    return msg.reason

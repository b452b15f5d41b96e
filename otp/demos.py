"""Supervision demos: each strategy, and intensity escalation, shown on a live process tree.

Run one with ``otp-channels demo one_for_one`` (or ``python -m otp.demos one_for_one``,
or ``python -m examples.supervision one_for_one`` in a checkout): it starts a small tree,
prints it, crashes a worker, waits for the supervisor to react and prints the tree again,
with what changed.

* ``one_for_one``  -- only the crashed worker is restarted.
* ``one_for_all``  -- every worker is restarted.
* ``rest_for_one`` -- the crashed worker and those started after it are restarted.
* ``escalation``   -- a supervisor exceeding its restart intensity (1 restart in 5 s)
  gives up; its own supervisor restarts it with fresh children.

Nothing here sleeps to synchronise: after the crash the demo waits for the worker's
``Down`` and then calls the supervisor, whose mailbox already holds the worker's
``Exit`` -- so the reply comes after the restart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import otp

__all__ = ["DEMOS", "Worker", "main", "run", "run_demo"]

Out = Callable[[str], None]


class Worker(otp.GenServer[int]):
    """A counter that crashes on request (``otp.cast(pid, "crash")``)."""

    behaviour_name = "Worker"

    async def init(self, arg: Any) -> otp.Ok[int]:
        return otp.Ok(0)

    async def handle_call(self, request: Any, from_: otp.From, state: int) -> otp.Reply[int]:
        if request == "incr":
            return otp.Reply(state + 1, state + 1)
        return otp.Reply(state, state)

    async def handle_cast(self, request: Any, state: int) -> otp.NoReply[int]:
        if request == "crash":
            raise RuntimeError("boom (a crash caused by the demo)")
        return otp.NoReply(state)

    def format_status(self, state: int) -> Any:
        return {"state": f"count={state}"}


def _worker(name: str) -> otp.ChildSpec:
    spec: otp.ChildSpec = Worker.child_spec(id=name, name=name)
    return spec


def _tree(out: Out, title: str) -> None:
    out(f"-- {title}")
    out(otp.format_tree(otp.snapshot()))
    out("")


def _pids(names: list[str]) -> dict[str, otp.Pid | None]:
    return {n: otp.whereis(n) for n in names}


async def _stop(pid: otp.Pid) -> None:
    """Stop a supervisor and wait until it (and so its whole subtree) is gone."""
    ref = otp.monitor(pid)
    await otp.Supervisor.stop(pid)
    await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref)


def _changes(out: Out, before: dict[str, otp.Pid | None], after: dict[str, otp.Pid | None]) -> None:
    for name, old in before.items():
        new = after[name]
        if old == new:
            out(f"   {name}: {old} kept (its state survives)")
        else:
            out(f"   {name}: {old} -> {new} restarted (fresh state)")
    out("")


async def _crash_and_wait(out: Out, victim: str, sup: str) -> None:
    """Crash ``victim``, wait for its Down, then call ``sup`` (served after the restart)."""
    pid = otp.whereis(victim)
    assert pid is not None
    ref = otp.monitor(pid)
    out(f"crashing {victim} ({pid}) ...")
    otp.cast(pid, "crash")
    down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref)
    out(f"{victim} exited: {down.reason!r}; waiting for {sup} to react ...")
    await otp.Supervisor.which_children(sup)


async def _strategy_demo(out: Out, strategy: otp.Strategy, title: str) -> None:
    names = ["worker_a", "worker_b", "worker_c"]
    sup = f"{title}.Sup"
    out(f"== {strategy.value}: a supervisor with three workers (count=1 each); worker_b will crash")
    pid = await otp.Supervisor.start_link([_worker(n) for n in names], strategy=strategy, name=sup)
    for n in names:
        await otp.call(n, "incr")
    _tree(out, "before the crash")
    before = _pids(names)
    await _crash_and_wait(out, "worker_b", sup)
    _tree(out, f"after the crash ({strategy.value})")
    _changes(out, before, _pids(names))
    await _stop(pid)


async def one_for_one(out: Out) -> None:
    """Only the crashed worker is restarted; its siblings keep their pids and state."""
    await _strategy_demo(out, otp.Strategy.ONE_FOR_ONE, "OneForOne")


async def one_for_all(out: Out) -> None:
    """Every child is stopped and restarted when one crashes."""
    await _strategy_demo(out, otp.Strategy.ONE_FOR_ALL, "OneForAll")


async def rest_for_one(out: Out) -> None:
    """The crashed child and the children started after it are restarted."""
    await _strategy_demo(out, otp.Strategy.REST_FOR_ONE, "RestForOne")


async def escalation(out: Out) -> None:
    """A supervisor over its restart intensity gives up; its parent restarts it."""
    out("== escalation: App (one_for_one) > Team (one_for_one, at most 1 restart in 5 s) > two workers")
    team = otp.Supervisor.child_spec([_worker("worker_x"), _worker("worker_y")], id="team", name="Team",
                                     max_restarts=1, max_seconds=5.0)
    app = await otp.Supervisor.start_link([team], name="App", max_restarts=3, max_seconds=5.0)
    names = ["Team", "worker_x", "worker_y"]
    for n in names[1:]:
        await otp.call(n, "incr")
    _tree(out, "before any crash")
    before = _pids(names)
    await _crash_and_wait(out, "worker_x", "Team")
    _tree(out, "after the first crash: Team restarted worker_x (1 restart: within its intensity)")
    _changes(out, before, _pids(names))
    before = _pids(names)
    team_pid = otp.whereis("Team")
    assert team_pid is not None
    team_ref = otp.monitor(team_pid)
    await _crash_and_wait_down_only(out, "worker_x")
    down = await otp.receive(lambda m: type(m) is otp.Down and m.ref is team_ref)
    out(f"Team exceeded its intensity and exited: {down.reason!r}; App restarts it ...")
    await otp.Supervisor.which_children("App")
    _tree(out, "after the second crash: App restarted Team, which started fresh workers")
    _changes(out, before, _pids(names))
    await _stop(app)


async def _crash_and_wait_down_only(out: Out, victim: str) -> None:
    pid = otp.whereis(victim)
    assert pid is not None
    ref = otp.monitor(pid)
    out(f"crashing {victim} ({pid}) again, within 5 s ...")
    otp.cast(pid, "crash")
    await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref)


#: name -> demo coroutine function taking an output function.
DEMOS: dict[str, Callable[[Out], Awaitable[None]]] = {
    "one_for_one": one_for_one,
    "one_for_all": one_for_all,
    "rest_for_one": rest_for_one,
    "escalation": escalation,
}


async def run_demo(name: str, out: Out = print) -> None:
    """Run one demo in the current node (from a plain task: it opens a mailbox)."""
    demo = DEMOS[name]
    async with otp.open_mailbox():
        await demo(out)
    out(f"== {name}: done")


def run(name: str, out: Out = print) -> None:
    """Run one demo (or ``"all"``) in a fresh node named ``demo``."""
    names = list(DEMOS) if name == "all" else [name]
    if any(n not in DEMOS for n in names):
        raise KeyError(name)

    async def main() -> None:
        for n in names:
            await run_demo(n, out)

    otp.run(main, name="demo")


def main(argv: list[str] | None = None, *, prog: str = "python -m otp.demos") -> None:
    """The demos' command line: ``NAME`` is one of :data:`DEMOS` or ``all``."""
    parser = argparse.ArgumentParser(prog=prog, description="Supervision demos on a live process tree.")
    parser.add_argument("name", choices=[*DEMOS, "all"], help="which demo to run")
    args = parser.parse_args(argv)
    run(args.name, lambda line: print(line, flush=True))
    sys.exit(0)


if __name__ == "__main__":
    main()

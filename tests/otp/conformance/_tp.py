"""The suites' ``test_proc`` (here ``tp_loop``)/``tp_call``/``tp_cast`` helpers, on our API.

erl_link_SUITE.erl drives its processes by sending them funs to run (``tp_call`` waits for
the result, ``tp_cast`` does not); these do the same with Python callables, sync or async.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import otp


async def tp_loop() -> None:
    """Run every fun sent to this process; answer the ``call`` ones."""
    while True:
        msg = await otp.receive(lambda m: type(m) is tuple and m[:1] in (("call",), ("cast",)))
        if msg[0] == "call":
            _, sender, ref, fn = msg
            result = fn()
            if inspect.isawaitable(result):
                result = await result
            otp.send(sender, (ref, result))
        else:
            result = msg[1]()
            if inspect.isawaitable(result):
                await result


async def tp_call(tp: otp.Pid, fn: Callable[[], Any]) -> Any:
    ref = otp.make_ref()
    otp.send(tp, ("call", otp.self(), ref, fn))
    _, result = await otp.receive(lambda m: type(m) is tuple and len(m) == 2 and m[0] is ref)
    return result


def tp_cast(tp: otp.Pid, fn: Callable[[], Any]) -> None:
    otp.send(tp, ("cast", fn))


def links_of(pid: otp.Pid) -> tuple[otp.Pid, ...]:
    info = otp.process_info(pid)
    return info.links if info is not None else ()


def check_link(a: otp.Pid, b: otp.Pid) -> None:
    assert b in links_of(a), (a, links_of(a))
    assert a in links_of(b), (b, links_of(b))


def check_unlink(a: otp.Pid, b: otp.Pid) -> None:
    assert b not in links_of(a), (a, links_of(a))
    assert a not in links_of(b), (b, links_of(b))


def monitors_of(pid: otp.Pid) -> tuple[tuple[otp.Pid, ...], tuple[otp.Pid, ...]]:
    """``{monitors, monitored_by}`` of a process, as monitor_SUITE's ``monitors()``."""
    info = otp.process_info(pid)
    assert info is not None
    return info.monitors, info.monitored_by

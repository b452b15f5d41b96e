"""A connection that ends is freed by reference counting, not left to the cycle collector.

Objects in reference cycles wait for a full collection of CPython's cyclic GC, and with many
live connections (hundreds of thousands of long-lived objects) those are rare: in the soak
(`python -m bench soak`, 19,000 connections, 5 replaced a second) the server's RSS grew by
~9 KiB per replaced connection, all of it cyclic garbage (the connection process's summary
bound to an object holding the process; the handler and its IO pointing at each other; the
writer's callbacks). These tests hold the rule with the collector switched off: every process
a connection started, and everything hanging on them, is gone once the processes have exited.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trio
import trio.testing

import otp
from channels import testing
from channels.transports._longpoll import LongPollOptions

from ..longpoll._app import running_endpoint
from ..longpoll._client import LongPollClient, v2


@contextmanager
def _cycle_collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _new_processes(before: set[otp.Pid]) -> list[otp.Process]:
    return [p for p in otp.current_node().processes() if p.pid not in before]


async def _exits(procs: list[otp.Process]) -> list[weakref.ref[otp.Process]]:
    """Weak references to ``procs``, returned once all of them have exited."""
    refs = {otp.monitor(p.pid): weakref.ref(p) for p in procs}
    pending = set(refs)
    while pending:
        down = await otp.receive(lambda m: type(m) is otp.Down and m.ref in pending)
        pending.discard(down.ref)
    await trio.testing.wait_all_tasks_blocked()
    return list(refs.values())


async def test_a_closed_websocket_connection_and_its_channel_leave_no_reference_cycle(
    ep: testing.RunningEndpoint,
) -> None:
    async with otp.open_mailbox():
        with _cycle_collector_off():
            before = {p.pid for p in otp.current_node().processes()}
            client = await testing.connect(ep, "/socket", params={"user": "ann"})
            assert await client.join("room:1", {}) == ("ok", {})
            await client.assert_reply(await client.push("room:1", "echo", {"a": 1}), "ok", {"a": 1})
            procs = _new_processes(before)
            assert "Connection" in {p.behaviour for p in procs}, procs
            assert len(procs) >= 2  # the connection and its channel
            waiting = _exits(procs)
            del procs
            await client.close()
            refs = await waiting
            assert [r() for r in refs] == [None] * len(refs)


async def test_an_ended_long_poll_session_and_its_channel_leave_no_reference_cycle(
    node: otp.Node, autojump_clock: Any
) -> None:
    async with running_endpoint(LongPollOptions(window_ms=2_000)) as endpoint, otp.open_mailbox():
        assert endpoint.port is not None
        client = LongPollClient(endpoint.port)
        try:
            with _cycle_collector_off():
                before = {p.pid for p in otp.current_node().processes()}
                await client.open()
                assert await client.post(v2("1", "1", "room:lobby", "phx_join", {})) == {"status": 200}
                [reply] = await client.poll_messages()
                assert reply[3] == "phx_reply"
                procs = [p for p in _new_processes(before) if not p.behaviour.startswith("Connection")]
                assert len(procs) >= 2  # the session and its channel
                waiting = _exits(procs)  # the session stops when it is not polled
                del procs
                refs = await waiting
                assert [r() for r in refs] == [None] * len(refs)
        finally:
            await client.aclose()

"""Rule 2: registered names: register, whereis, unregister, and freeing a name on exit."""

from __future__ import annotations

import pytest
import trio
import trio.testing

import otp

from ._helpers import echo, sleeper, stop_and_wait, wait_down


async def test_send_by_registered_name(node: otp.Node) -> None:
    pid = node.spawn(echo, name="echo")
    async with otp.open_mailbox() as me:
        otp.send("echo", (me, "hi"))
        assert await otp.receive() == ("echo", "hi")
        await stop_and_wait(pid)


async def test_register_whereis_unregister(node: otp.Node) -> None:
    pid = node.spawn(sleeper)
    otp.register("worker", pid)
    assert otp.whereis("worker") is pid
    assert "worker" in otp.registered()
    info = otp.process_info("worker")
    assert info is not None
    assert info.name == "worker"
    otp.unregister("worker")
    assert otp.whereis("worker") is None
    with pytest.raises(otp.NoProcessError):
        otp.unregister("worker")
    async with otp.open_mailbox():
        await stop_and_wait(pid)


async def test_register_rejects_a_taken_name_a_second_name_and_dead_pids(node: otp.Node) -> None:
    a = node.spawn(sleeper, name="a")
    b = node.spawn(sleeper)
    with pytest.raises(otp.AlreadyRegisteredError, match="'a' is already registered"):
        otp.register("a", b)
    with pytest.raises(otp.AlreadyRegisteredError, match="already registered as 'a'"):
        otp.register("other", a)
    with pytest.raises(otp.AlreadyRegisteredError):
        node.spawn(sleeper, name="a")
    with pytest.raises(TypeError):
        otp.register("", b)
    async with otp.open_mailbox():
        await stop_and_wait(a)
        await stop_and_wait(b)
        with pytest.raises(otp.NoProcessError):
            otp.register("b", b)


async def test_register_defaults_to_the_current_process(node: otp.Node) -> None:
    async with otp.open_mailbox() as me:
        otp.register("me")
        assert otp.whereis("me") is me
    assert otp.whereis("me") is None


async def test_name_is_freed_before_down_so_the_watcher_can_reregister_at_once(node: otp.Node) -> None:
    async def watcher() -> None:
        ref = otp.monitor("svc")
        await wait_down(ref)
        # The name must already be free when Down arrives.
        otp.register("svc")
        await otp.receive(lambda m: m == "stop")

    old = node.spawn(sleeper, name="svc")
    w = node.spawn(watcher)
    await trio.testing.wait_all_tasks_blocked()
    async with otp.open_mailbox():
        ref = otp.monitor(old)
        otp.exit(old, otp.KILL)
        await wait_down(ref)
        await trio.testing.wait_all_tasks_blocked()
        assert otp.whereis("svc") is w
        ref = otp.monitor(w)
        otp.send("svc", "stop")
        assert (await wait_down(ref)).reason is otp.NORMAL


async def test_name_is_freed_when_the_process_exits(node: otp.Node) -> None:
    async def quick() -> None:
        return

    node.spawn(quick, name="q")
    await trio.testing.wait_all_tasks_blocked()
    assert otp.whereis("q") is None
    assert "q" not in otp.registered()

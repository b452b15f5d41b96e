"""Rule 8: an abnormal exit is logged once at ERROR on ``otp.crash``; quiet exits are quiet."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, Recorder, recorder_spec, sleeper, wait_down


def crash_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "otp.crash"]


async def _crash_deep() -> None:
    await otp.receive(lambda m: m == "go")
    _helper_that_raises()


def _helper_that_raises() -> None:
    raise Boom("deep crash")


async def _exit_on_go(reason: Any) -> None:
    await otp.receive(lambda m: m == "go")
    raise otp.ProcessExit(reason)


async def test_a_crash_is_logged_once_at_error_with_pid_name_and_traceback(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    async with otp.open_mailbox():
        pid = otp.spawn(_crash_deep, name="deep")
        ref = otp.monitor(pid)
        otp.send(pid, "go")
        await wait_down(ref)
    (record,) = crash_records(caplog)
    assert record.levelno == logging.ERROR
    text = record.getMessage()
    assert str(pid) in text
    assert "(deep)" in text
    assert "Boom('deep crash')" in text
    assert record.exc_info is not None
    assert record.exc_info[1] is not None
    formatted = logging.Formatter().formatException(record.exc_info)
    assert "Traceback" in formatted
    assert "_helper_that_raises" in formatted
    assert "_crash_deep" in formatted


async def test_an_abnormal_exit_reason_is_logged_without_traceback(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(_exit_on_go, "odd_reason")
        otp.send(pid, "go")
        await wait_down(ref)
    (record,) = crash_records(caplog)
    assert record.levelno == logging.ERROR
    assert "exited abnormally: 'odd_reason'" in record.getMessage()
    assert str(pid) in record.getMessage()


@pytest.mark.parametrize("reason", [otp.NORMAL, otp.SHUTDOWN, otp.Shutdown("bye")], ids=repr)
async def test_normal_and_shutdown_exits_are_quiet(
    node: otp.Node, caplog: pytest.LogCaptureFixture, reason: Any
) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(_exit_on_go, reason)
        otp.send(pid, "go")
        await wait_down(ref)
        # Killed from outside with shutdown: quiet as well.
        pid, ref = otp.spawn_monitor(sleeper)
        otp.exit(pid, otp.SHUTDOWN)
        await wait_down(ref)
    assert crash_records(caplog) == []


async def test_processes_killed_by_a_linked_crash_are_not_logged_again(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    async def linked_sleeper(to: otp.Pid) -> None:
        otp.link(to)
        await trio.sleep_forever()

    async with otp.open_mailbox():
        crasher = otp.spawn(_crash_deep)
        refs = [otp.monitor(otp.spawn(linked_sleeper, crasher)) for _ in range(3)]
        await trio.testing.wait_all_tasks_blocked()
        ref = otp.monitor(crasher)
        otp.send(crasher, "go")
        await wait_down(ref)
        for r in refs:
            assert isinstance((await wait_down(r)).reason, Boom)
    records = crash_records(caplog)
    assert len(records) == 1
    assert str(crasher) in records[0].getMessage()


async def test_a_process_killed_by_an_exit_signal_is_not_logged(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    async with otp.open_mailbox():
        pid, ref = otp.spawn_monitor(sleeper)
        otp.exit(pid, "some_reason")
        await wait_down(ref)
        pid, ref = otp.spawn_monitor(sleeper)
        otp.exit(pid, otp.KILL)
        await wait_down(ref)
    assert crash_records(caplog) == []


async def test_a_gen_server_crash_report_names_the_server_and_its_last_message(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []
    pid = await Recorder.start(("r", log), name="rec")
    async with otp.open_mailbox():
        ref = otp.monitor(pid)
        otp.cast("rec", "crash")
        await wait_down(ref)
    (record,) = crash_records(caplog)
    text = record.getMessage()
    assert f"{pid} (rec) [Recorder] crashed: Boom('r crashed')" in text
    assert "Last message: Cast(request='crash')" in text
    assert "State: RState(tag='r'" in text
    assert record.exc_info is not None


async def test_a_supervised_child_crash_is_logged_once_and_the_restart_is_not_a_crash(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []
    sup = await otp.Supervisor.start_link([recorder_spec("a", log), recorder_spec("b", log)])
    (_, a, _, _), _b = await otp.Supervisor.which_children(sup)
    assert a is not None
    async with otp.open_mailbox():
        ref = otp.monitor(a)
        otp.cast(a, "crash")
        await wait_down(ref)
    await otp.Supervisor.which_children(sup)
    assert len(crash_records(caplog)) == 1
    await otp.Supervisor.stop(sup)
    assert len(crash_records(caplog)) == 1


async def test_a_trapping_server_stopped_by_its_parents_crash_is_not_logged_again(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    log: list[Any] = []

    async def parent() -> None:
        await Recorder.start_link(("child", log))
        await otp.receive(lambda m: m == "go")
        raise Boom("parent crashed")

    async with otp.open_mailbox():
        p, ref = otp.spawn_monitor(parent)
        await trio.testing.wait_all_tasks_blocked()
        otp.send(p, "go")
        await wait_down(ref)
        await trio.testing.wait_all_tasks_blocked()
    assert [e[:2] for e in log] == [("init", "child"), ("terminate", "child")]
    (record,) = crash_records(caplog)
    assert str(p) in record.getMessage()


async def test_a_trapping_server_whose_terminate_fails_is_logged(
    node: otp.Node, caplog: pytest.LogCaptureFixture
) -> None:
    class BadTerminate(otp.GenServer[None]):
        trap_exit = True

        async def init(self, arg: Any) -> otp.Ok[None]:
            return otp.Ok(None)

        async def terminate(self, reason: Any, state: None) -> None:
            raise Boom("terminate failed")

    async def parent() -> None:
        await BadTerminate.start_link()
        await trio.sleep_forever()

    async with otp.open_mailbox():
        p, ref = otp.spawn_monitor(parent)
        await trio.testing.wait_all_tasks_blocked()
        otp.exit(p, otp.SHUTDOWN)
        await wait_down(ref)
        await trio.testing.wait_all_tasks_blocked()
    (record,) = crash_records(caplog)
    assert "Boom('terminate failed')" in record.getMessage()

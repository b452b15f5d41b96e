"""DynamicSupervisor, PartitionSupervisor, Registry, process groups and introspection."""

from __future__ import annotations

import functools
import gc
import json
import weakref
from typing import Any

import pytest
import trio
import trio.testing

import otp

from ._helpers import Boom, stop_and_wait


class Worker(otp.GenServer[Any]):
    async def init(self, arg: Any) -> otp.Ok[Any]:
        return otp.Ok(arg)

    async def handle_call(self, request: Any, from_: otp.From, state: Any) -> otp.Reply[Any]:
        if request == "boom":
            raise Boom("worker crash")
        if isinstance(request, tuple) and request[0] == "register":
            otp.Registry.register(request[1], request[2], request[3])
            return otp.Reply("ok", state)
        if isinstance(request, tuple) and request[0] == "join":
            otp.PG.join(request[1])
            return otp.Reply("ok", state)
        return otp.Reply(state, state)


def spec(arg: Any, restart: otp.Restart = otp.Restart.PERMANENT) -> otp.ChildSpec:
    return Worker.child_spec(arg, restart=restart)


# -- DynamicSupervisor -----------------------------------------------------------------------


async def test_dynamic_supervisor_starts_children_on_demand_and_restarts_permanent_ones(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.DynamicSupervisor.start_link(name="dyn")
        counts = await otp.DynamicSupervisor.count_children(sup)
        assert counts == {"specs": 0, "active": 0, "supervisors": 0, "workers": 0}
        pid = await otp.DynamicSupervisor.start_child(sup, spec(1))
        assert pid is not None
        assert await otp.call(pid, "get") == 1
        with pytest.raises(otp.CallError):
            await otp.call(pid, "boom")
        await trio.testing.wait_all_tasks_blocked()
        [(_, new_pid, kind, _)] = await otp.DynamicSupervisor.which_children(sup)
        assert new_pid is not pid
        assert kind == "worker"
        await stop_and_wait(sup, otp.SHUTDOWN)


async def test_dynamic_supervisor_does_not_restart_temporary_children(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.DynamicSupervisor.start_link()
        pid = await otp.DynamicSupervisor.start_child(sup, spec(1, otp.Restart.TEMPORARY))
        assert pid is not None
        await stop_and_wait(pid, "crash")
        await trio.testing.wait_all_tasks_blocked()
        assert await otp.DynamicSupervisor.which_children(sup) == []
        await stop_and_wait(sup, otp.SHUTDOWN)


class _Payload:
    """Something a child's start function holds (a connection's stream, say)."""


async def _start_worker(payload: _Payload) -> otp.Pid:
    return await Worker.start_link(1)


@pytest.mark.parametrize(("restart", "kept"), [(otp.Restart.TEMPORARY, False), (otp.Restart.PERMANENT, True)])
async def test_dynamic_supervisor_keeps_the_start_function_only_of_children_it_may_restart(
        node: otp.Node, restart: otp.Restart, kept: bool) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)
        sup = await otp.DynamicSupervisor.start_link()
        payload = _Payload()
        alive = weakref.ref(payload)
        child = otp.ChildSpec(id="c", start=functools.partial(_start_worker, payload), restart=restart,
                              shutdown=1.5, behaviour="Worker")
        pid = await otp.DynamicSupervisor.start_child(sup, child)
        del payload, child
        gc.collect()
        assert (alive() is not None) is kept
        # What the supervisor reports and how it stops the child do not change.
        assert await otp.DynamicSupervisor.which_children(sup) == [(None, pid, "worker", "Worker")]
        assert (await otp.DynamicSupervisor.count_children(sup))["workers"] == 1
        await otp.DynamicSupervisor.terminate_child(sup, pid)
        assert not otp.is_alive(pid)
        await stop_and_wait(sup, otp.SHUTDOWN)


async def test_dynamic_supervisor_refuses_children_past_max_children(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.DynamicSupervisor.start_link(max_children=2)
        await otp.DynamicSupervisor.start_child(sup, spec(1))
        await otp.DynamicSupervisor.start_child(sup, spec(2))
        with pytest.raises(otp.MaxChildrenError):
            await otp.DynamicSupervisor.start_child(sup, spec(3))
        await stop_and_wait(sup, otp.SHUTDOWN)


async def test_dynamic_supervisor_terminate_child_stops_and_forgets_it(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.DynamicSupervisor.start_link()
        pid = await otp.DynamicSupervisor.start_child(sup, spec(1))
        assert pid is not None
        await otp.DynamicSupervisor.terminate_child(sup, pid)
        assert not otp.is_alive(pid)
        assert await otp.DynamicSupervisor.which_children(sup) == []
        with pytest.raises(otp.SupervisorError):
            await otp.DynamicSupervisor.terminate_child(sup, pid)
        await stop_and_wait(sup, otp.SHUTDOWN)


async def test_dynamic_supervisor_gives_up_past_its_restart_intensity(
        node: otp.Node, autojump_clock: trio.abc.Clock) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.DynamicSupervisor.start_link(max_restarts=1, max_seconds=5)
        ref = otp.monitor(sup)
        pid = await otp.DynamicSupervisor.start_child(sup, spec(1))
        for _ in range(2):
            [(_, pid, _, _)] = await otp.DynamicSupervisor.which_children(sup)
            otp.exit(pid, "crash")
            await trio.testing.wait_all_tasks_blocked()
        down = await otp.receive(lambda m: isinstance(m, otp.Down) and m.ref is ref)
        assert down.reason == otp.SHUTDOWN


# -- PartitionSupervisor ------------------------------------------------------------------------


async def test_partition_supervisor_routes_children_by_key_to_its_partitions(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.PartitionSupervisor.start_link(name="pool", partitions=3)
        assert otp.PartitionSupervisor.partitions("pool") == 3
        for key in range(6):
            await otp.PartitionSupervisor.start_child("pool", spec(key), key=key)
        counts = [
            (await otp.DynamicSupervisor.count_children(f"pool.{i}"))["active"] for i in range(3)
        ]
        assert sum(counts) == 6
        assert counts == [2, 2, 2]  # an int key routes to abs(key) % 3: 0..5 spread evenly
        # The pool's own counts describe its partitions, as Elixir's do.
        assert await otp.PartitionSupervisor.count_children("pool") == {
            "specs": 3, "active": 3, "supervisors": 3, "workers": 0,
        }
        await stop_and_wait(sup, otp.SHUTDOWN)


async def test_partition_supervisor_defaults_to_one_partition_per_cpu(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        import os

        sup = await otp.PartitionSupervisor.start_link(name="cpus")
        assert otp.PartitionSupervisor.partitions("cpus") == (os.cpu_count() or 1)
        await stop_and_wait(sup, otp.SHUTDOWN)


# -- Registry ---------------------------------------------------------------------------------------


async def test_unique_registry_refuses_a_taken_key_and_frees_it_when_the_owner_dies(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        reg = await otp.Registry.start_link(name="uniq", keys=otp.Keys.UNIQUE, partitions=2)
        a = await Worker.start(1)
        b = await Worker.start(2)
        await otp.call(a, ("register", "uniq", "k", "va"))
        with pytest.raises(otp.CallError):
            await otp.call(b, ("register", "uniq", "k", "vb"))  # RegistryError crashes b's call
        assert otp.Registry.lookup("uniq", "k") == [(a, "va")]
        await stop_and_wait(a)
        assert otp.Registry.lookup("uniq", "k") == []
        await stop_and_wait(reg, otp.SHUTDOWN)


async def test_duplicate_registry_dispatches_per_partition_and_cleans_up_on_exit(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        reg = await otp.Registry.start_link(name="dup", keys=otp.Keys.DUPLICATE, partitions=4)
        workers = [await Worker.start(i) for i in range(5)]
        for i, w in enumerate(workers):
            await otp.call(w, ("register", "dup", "topic", i))
        seen: list[int] = []
        calls: list[int] = []

        def fn(entries: Any) -> None:
            calls.append(1)
            seen.extend(v for _, v in entries)

        otp.Registry.dispatch("dup", "topic", fn)
        assert sorted(seen) == [0, 1, 2, 3, 4]
        assert 1 <= len(calls) <= 4  # once per partition that has entries
        assert otp.Registry.match("dup", "topic", lambda v: v % 2 == 0) == [
            e for e in otp.Registry.lookup("dup", "topic") if e[1] % 2 == 0
        ]
        assert otp.Registry.keys("dup", workers[0]) == ["topic"]
        await stop_and_wait(workers[0])
        assert otp.Registry.count("dup") == 4
        for w in workers[1:]:
            await stop_and_wait(w)
        assert otp.Registry.count("dup") == 0
        await stop_and_wait(reg, otp.SHUTDOWN)


async def test_registry_unregister_removes_only_that_key(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        reg = await otp.Registry.start_link(name="u2", keys=otp.Keys.DUPLICATE)
        w = await Worker.start(0)
        otp.Registry.register("u2", "a", 1, pid=w)
        otp.Registry.register("u2", "b", 2, pid=w)
        otp.Registry.unregister("u2", "a", pid=w)
        assert otp.Registry.lookup("u2", "a") == []
        assert otp.Registry.lookup("u2", "b") == [(w, 2)]
        await stop_and_wait(w)
        await stop_and_wait(reg, otp.SHUTDOWN)


async def test_unknown_registry_is_a_clear_error(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        with pytest.raises(otp.RegistryError, match="start it first"):
            otp.Registry.lookup("nope", "k")


# -- process groups -----------------------------------------------------------------------------------


async def test_process_groups_list_members_and_drop_them_on_exit(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        a = await Worker.start(1)
        b = await Worker.start(2)
        await otp.call(a, ("join", "g"))
        await otp.call(b, ("join", "g"))
        otp.PG.join("other", a)
        assert sorted(otp.PG.members("g")) == sorted([a, b])
        assert set(otp.PG.which_groups()) == {"g", "other"}
        otp.PG.leave("g", b)
        assert otp.PG.members("g") == [a]
        await stop_and_wait(a)
        assert otp.PG.members("g") == []
        assert otp.PG.members("other") == []
        await stop_and_wait(b)


# -- introspection ------------------------------------------------------------------------------------


async def test_snapshot_is_json_and_shows_supervisors_with_children_and_restarts(node: otp.Node) -> None:
    async with otp.open_mailbox():
        otp.trap_exit(True)  # the test links to what it starts; their exits become messages
        sup = await otp.Supervisor.start_link([Worker.child_spec(1, name="w1")], name="top")
        with pytest.raises(otp.CallError):
            await otp.call("w1", "boom")
        await trio.testing.wait_all_tasks_blocked()
        snap = otp.snapshot()
        json.dumps(snap)
        [top] = [d for d in snap["tree"] if d["name"] == "top"]
        assert top["behaviour"] == "Supervisor"
        [child] = top["children"]
        assert (child["name"], child["behaviour"], child["restarts"]) == ("w1", "Worker", 1)
        assert {"mailbox", "links", "monitors", "uptime", "statistics", "status"} <= set(child)
        assert otp.find_process(snap, "w1") == child
        assert "w1" in otp.format_tree(snap)
        await stop_and_wait(sup, otp.SHUTDOWN)

"""Elixir's ``partition_supervisor_test.exs``, test by test, on ``otp.PartitionSupervisor``.

Source: elixir-lang/elixir, ``lib/elixir/test/elixir/partition_supervisor_test.exs``
(commit 63a7a054ceb2383d795731db8e6ea28aa30e4a03).

Our pool is the one Phoenix needs: its partitions are ``DynamicSupervisor`` s, started
with the pool's ``max_children``/intensity. Elixir's takes any ``:child_spec`` and a
``:with_arguments`` function, and can ``resize!``; the cases that need those are strict
xfails (README, differences table). Keys route with ``stable_hash(key) % partitions``
(``abs(key) % partitions`` for ints, as Elixir's ``rem(abs(key), partitions)``).

Not ported, no meaning here:

* "uses the via value as id", "on success with via name", ``stop/1`` "with via tuple",
  "raises noproc for unknown via partition supervisor", ``count_children/1`` "with via
  tuple": names are local strs; there is no ``{:via, ...}``.
* "raises without child_spec", "raises on bad with_arguments", "raises with bad
  auto_shutdown": there are no such options (the partitions are DynamicSupervisors,
  ``auto_shutdown`` does not exist).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

import otp

Part = otp.PartitionSupervisor


class Agent(otp.GenServer[Any]):
    """Elixir's ``Agent`` with ``Agent.get(pid, & &1)``: a server that holds a value."""

    async def init(self, value: Any) -> otp.Ok[Any]:
        return otp.Ok(value)

    async def handle_call(self, request: Any, from_: otp.From, state: Any) -> otp.Reply[Any]:
        return otp.Reply(state, state)


def test_child_spec_uses_the_atom_name_as_id() -> None:
    # partition_supervisor_test.exs: describe "child_spec", test "uses the atom name as id"
    spec = Part.child_spec(name="Foo")
    assert (spec.id, spec.type) == ("Foo", otp.ChildType.SUPERVISOR)


async def test_start_link_on_success_with_atom_name(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "start_link/1", test "on success with atom name"
    await Part.start_link(name="test")
    assert Part.partitions("test") == (os.cpu_count() or 1)
    refs = []
    for _ in range(100):
        ref = otp.make_ref()
        await Part.start_child("test", Agent.child_spec(ref), key=ref)
        refs.append(ref)
    agents = []
    for _, partition, _, _ in await Part.which_children("test"):
        assert isinstance(partition, otp.Pid)
        for _, pid, _, _ in await otp.DynamicSupervisor.which_children(partition):
            assert isinstance(pid, otp.Pid)
            agents.append(await otp.call(pid, "get"))
    assert sorted(r.n for r in refs) == sorted(r.n for r in agents)
    await Part.stop("test")


@pytest.mark.xfail(strict=True, reason="partitions are DynamicSupervisors: no :child_spec or :with_arguments")
async def test_start_link_with_arguments(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "start_link/1", test "with_arguments"
    start: Any = Part.start_link
    await start(name="test", partitions=3, child_spec=Agent.child_spec("unused"),
                with_arguments=lambda args, partition: [partition])
    try:
        assert Part.partitions("test") == 3
        for key, value in ((0, 0), (1, 1), (2, 2), (3, 0), (-1, 1)):
            assert await otp.call(Part.partition_for("test", key), "get") == value
    finally:
        await Part.stop("test")


async def test_start_link_raises_without_name(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "start_link/1", test "raises without name"
    start: Any = Part.start_link
    with pytest.raises(TypeError, match="name"):
        await start()


async def test_start_link_raises_on_bad_partitions(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "start_link/1", test "raises on bad partitions"
    with pytest.raises(otp.InvalidSpecError, match="invalid partitions: 0 ") as info:
        await Part.start_link(name="Foo", partitions=0)
    assert info.value.field == "partitions"
    assert otp.processes() == []


async def test_stop_is_synchronous(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "stop/1", test "is synchronous"
    await Part.start_link(name="test")
    await Part.stop("test")
    assert otp.whereis("test") is None


async def test_partitions_raises_noproc_for_unknown_atom_partition_supervisor(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "partitions/1",
    # test "raises noproc for unknown atom partition supervisor"
    with pytest.raises(otp.NoProcessError, match="noproc"):
        Part.partitions("unknown")


@pytest.mark.xfail(strict=True, reason="PartitionSupervisor.resize! is not implemented")
async def test_resize_resizes_the_number_of_children(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "resize!/1", test "resizes the number of children"
    await Part.start_link(name="test", partitions=8)
    try:
        for i in [*range(8, -1, -1), *range(9)]:
            Part.resize(name="test", partitions=i)  # type: ignore[attr-defined]
            assert Part.partitions("test") == i
            assert await Part.count_children("test") == {"active": i, "specs": 8, "supervisors": 8, "workers": 0}
    finally:
        await Part.stop("test")


@pytest.mark.xfail(strict=True, reason="PartitionSupervisor.resize! is not implemented")
async def test_resize_raises_on_lookup_after_resizing_to_zero(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "resize!/1", test "raises on lookup after resizing to zero"
    await Part.start_link(name="test", partitions=8)
    try:
        assert Part.resize(name="test", partitions=0) == 8  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="has zero partitions"):
            Part.partition_for("test", 0)
        assert Part.resize(name="test", partitions=8) == 0  # type: ignore[attr-defined]
    finally:
        await Part.stop("test")


@pytest.mark.xfail(strict=True, reason="PartitionSupervisor.resize! is not implemented")
async def test_resize_raises_if_trying_to_increase_the_number_of_partitions(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "resize!/1",
    # test "raises if trying to increase the number of partitions"
    await Part.start_link(name="test", partitions=8)
    try:
        with pytest.raises(ValueError, match="must be a number between 0 and 8, got: 9"):
            Part.resize(name="test", partitions=9)  # type: ignore[attr-defined]
    finally:
        await Part.stop("test")


async def test_which_children_returns_all_partitions(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "which_children/1", test "returns all partitions"
    # (the partitions are DynamicSupervisors here: type "supervisor", not Agent workers)
    await Part.start_link(name="test")
    n = Part.partitions("test")
    assert n == (os.cpu_count() or 1)
    children = sorted(await Part.which_children("test"), key=lambda row: row[0])  # type: ignore[arg-type, return-value]
    assert children == [(p, otp.whereis(f"test.{p}"), "supervisor", "DynamicSupervisor") for p in range(n)]
    await Part.stop("test")


@pytest.mark.xfail(strict=True, reason="partitions are DynamicSupervisors: a pool of workers (Agent) "
                                       "cannot be made")
async def test_count_children_with_workers(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "count_children/1", test "with workers"
    start: Any = Part.start_link
    await start(name="test", child_spec=Agent.child_spec({}))
    try:
        n = os.cpu_count() or 1
        assert await Part.count_children("test") == {"active": n, "specs": n, "supervisors": 0, "workers": n}
    finally:
        await Part.stop("test")


async def test_count_children_with_supervisors(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "count_children/1", test "with supervisors"
    await Part.start_link(name="test")
    n = os.cpu_count() or 1
    assert await Part.count_children("test") == {"active": n, "specs": n, "supervisors": n, "workers": 0}
    await Part.stop("test")


async def test_count_children_raises_noproc_for_unknown_partition_supervisor(node: otp.Node) -> None:
    # partition_supervisor_test.exs: describe "count_children/1",
    # test "raises noproc for unknown partition supervisor"
    with pytest.raises(otp.NoProcessError, match="noproc"):
        await Part.count_children("unknown")

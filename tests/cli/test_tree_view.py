"""The tree view the CLI prints (``otp.snapshot`` / ``otp.format_tree``): order, restarts, summaries, limits."""

from __future__ import annotations

from typing import Any

import otp
from otp._introspect import describe


class _Topics(otp.GenServer[list[str]]):
    async def init(self, arg: list[str]) -> otp.Ok[list[str]]:
        return otp.Ok(arg)

    def format_status(self, state: list[str]) -> Any:
        return {"transport": "websocket", "topics": state, "assigns": {"secret": "x"}}


async def _stop(pid: otp.Pid) -> None:
    ref = otp.monitor(pid)
    await otp.Supervisor.stop(pid)
    await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref)


async def test_a_restarted_child_keeps_its_place_among_its_siblings_and_counts_the_restart(node: otp.Node) -> None:
    async with otp.open_mailbox():
        specs = [_Topics.child_spec([], id=n, name=n) for n in ("a", "b", "c")]
        sup = await otp.Supervisor.start_link(specs, name="sup")
        old = otp.whereis("b")
        assert old is not None
        ref = otp.monitor(old)
        otp.exit(old, "boom")
        await otp.receive(lambda m: type(m) is otp.Down and m.ref is ref)
        await otp.Supervisor.which_children("sup")  # served after the restart
        snap = otp.snapshot()
        (root,) = snap["tree"]
        assert [c["name"] for c in root["children"]] == ["a", "b", "c"]
        assert [c["restarts"] for c in root["children"]] == [0, 1, 0]
        assert root["restarts"] is None  # a top-level process has no supervisor counting
        text = otp.format_tree(snap)
        assert text.splitlines()[1].startswith(f"{sup}  sup  Supervisor  ")
        assert text.splitlines()[-1].startswith(f"└─ {otp.whereis('c')}  c  ")
        await _stop(sup)


async def test_short_lists_of_a_summary_are_shown_and_nested_values_are_not(node: otp.Node) -> None:
    async with otp.open_mailbox():
        pid = await _Topics.start(["ping", "wild:1:2"], name="conn")
        found = otp.find_process(otp.snapshot(), "conn")
        assert found is not None
        line = describe(found)
        assert "topics=[ping, wild:1:2]" in line
        assert "transport=websocket" in line
        assert "assigns" not in line
        assert "secret" not in line
        await otp.stop(pid)


async def test_max_children_counts_the_hidden_children(node: otp.Node) -> None:
    async with otp.open_mailbox():
        sup = await otp.DynamicSupervisor.start_link(name="dyn")
        for i in range(5):
            await otp.DynamicSupervisor.start_child("dyn", _Topics.child_spec([str(i)], id=i))
        snap = otp.snapshot(max_children=2)
        (root,) = snap["tree"]
        assert len(root["children"]) == 2
        assert root["more"] == 3
        assert all(c["restarts"] == 0 for c in root["children"])  # children of a dynamic supervisor
        text = otp.format_tree(snap)
        assert text.splitlines()[-1] == "└─ ... 3 more"
        assert otp.format_tree(otp.snapshot(), max_children=4).splitlines()[-1] == "└─ ... 1 more"
        await _stop(sup)

"""OTP's ``pg_SUITE``, case by case, on ``otp.PG``.

Source: erlang/otp, ``lib/kernel/test/pg_SUITE.erl`` (commit
05b42c01fed14c3e801cdf9a6f1d31d05de99fa1). One node: every member is local, so
``get_local_members``/``which_local_groups`` are ``members``/``which_groups``; ``ok`` from
``leave`` is True and ``not_joined`` is False.

Not ported, no meaning here:

* ``errors``: there is no pg scope *server* to crash with garbage messages; a scope is a
  table in the node, created on first use.
* ``dyn_distribution``, ``process_owner_check``, ``overlay_missing``, ``two``,
  ``empty_group_by_remote_leave``, ``thundering_herd``, ``initial``, ``netsplit``,
  ``trisplit``, ``foursplit``, ``exchange``, ``nolocal``, ``double``, ``scope_restart``,
  ``missing_scope_join``, ``disconnected_start``, ``forced_sync``, ``group_leave``: the
  ``cluster`` group and the distribution cases need other nodes (remote pids, netsplits,
  peer scopes); ``thundering_herd`` also times a remote sync flood.
"""

from __future__ import annotations

import trio.testing

import otp

from .._helpers import sleeper, wait_down


async def stop_proc(pid: otp.Pid) -> None:
    """The suite's ``stop_proc``: kill and wait for the DOWN."""
    ref = otp.monitor(pid)
    otp.exit(pid, otp.KILL)
    await wait_down(ref)


async def test_pg(node: otp.Node) -> None:
    # pg_SUITE.erl: pg (the default scope)
    async with otp.open_mailbox() as me:
        otp.PG.join("pg", me)
        assert otp.PG.members("pg") == [me]
        assert otp.PG.which_groups() == ["pg"]
        assert otp.PG.leave("pg", me) is True
        assert otp.PG.members("pg") == []
        assert otp.PG.which_groups(scope="pg") == []


async def test_single(node: otp.Node) -> None:
    # pg_SUITE.erl: single
    async with otp.open_mailbox() as me:
        otp.PG.join("single", me, scope="single")
        otp.PG.join("single", [me, me], scope="single")
        assert otp.PG.members("single", scope="single") == [me, me, me]
        assert otp.PG.leave("$missing$", me, scope="single") is False  # not_joined
        assert otp.PG.leave("single", [me, me], scope="single") is True
        assert otp.PG.leave("single", me, scope="single") is True
        assert otp.PG.which_groups(scope="single") == []
        assert otp.PG.members("single", scope="single") == []
        # double
        otp.PG.join("single", me, scope="single")
        pid = otp.spawn(sleeper)
        otp.PG.join("single", pid, scope="single")
        expected = sorted([pid, me])
        assert sorted(otp.PG.members("single", scope="single")) == expected
        await stop_proc(pid)
        assert otp.PG.members("single", scope="single") == [me]
        assert otp.PG.leave("single", me, scope="single") is True


async def test_leave_exit_race(node: otp.Node) -> None:
    # pg_SUITE.erl: leave_exit_race (leave and the exit of the member, in either order)
    async def returns() -> None:
        return None

    for _ in range(100):
        pid = otp.spawn(returns)
        otp.PG.join("test", pid, scope="leave_exit_race")
        otp.PG.leave("test", pid, scope="leave_exit_race")
    await trio.testing.wait_all_tasks_blocked()
    assert otp.PG.which_groups(scope="leave_exit_race") == []
    # And with the exit first: the member is gone by the time it leaves.
    for _ in range(100):
        pid = otp.spawn(returns)
        otp.PG.join("test", pid, scope="leave_exit_race")
        await trio.testing.wait_all_tasks_blocked()
        assert otp.PG.leave("test", pid, scope="leave_exit_race") is False
    assert otp.PG.which_groups(scope="leave_exit_race") == []

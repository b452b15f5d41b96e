"""Hypothesis properties of the runtime checked against small reference models.

Each example runs its own ``trio.run`` with a fresh node (function-scoped fixtures do not
mix with ``@given``); timed examples use a ``MockClock`` that jumps when all tasks wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing
from hypothesis import given, settings, strategies as st

import otp

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


def run_in_node(main: Callable[[], Awaitable[None]], *, clock: trio.abc.Clock | None = None) -> None:
    async def root() -> None:
        async with otp.open_node() as node:
            with trio.fail_after(10_000):
                await main()
            await trio.testing.wait_all_tasks_blocked()
            assert node.processes() == [], node.processes()

    trio.run(root, clock=clock or trio.testing.MockClock(autojump_threshold=0))


async def _wait_down(ref: otp.Ref) -> otp.Down:
    msg: otp.Down = await otp.receive(lambda m: isinstance(m, otp.Down) and m.ref is ref)
    return msg


# -- (a) selective receive against a model queue -------------------------------------------------

MATCHERS: dict[str, Any] = {
    "any": None,
    "int": int,
    "str": str,
    "bytes": bytes,
    "tuple": tuple,
    "int|bytes": (int, bytes),
}


def _matches(key: str, value: Any) -> bool:
    m = MATCHERS[key]
    return m is None or isinstance(value, m)


values = st.one_of(
    st.integers(-5, 5).filter(lambda v: not isinstance(v, bool)),
    st.text(max_size=2),
    st.binary(max_size=2),
    st.tuples(st.integers(0, 3)),
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), values),
        st.tuples(st.just("poll"), st.sampled_from(sorted(MATCHERS))),
        st.tuples(st.just("wait"), st.sampled_from(sorted(MATCHERS)), st.lists(values, max_size=4)),
    ),
    max_size=30,
)


async def _feed(to: otp.Pid, items: list[Any]) -> None:
    for item in items:
        await trio.lowlevel.checkpoint()
        otp.send(to, item)


@PROPERTY_SETTINGS
@given(ops)
def test_selective_receive_matches_a_model_queue(script: list[Any]) -> None:
    async def main() -> None:
        model: list[Any] = []
        async with otp.open_mailbox() as me:
            for op in script:
                if op[0] == "send":
                    otp.send(me, op[1])
                    model.append(op[1])
                elif op[0] == "poll":
                    expected = next((i for i, v in enumerate(model) if _matches(op[1], v)), None)
                    try:
                        got = await otp.receive(MATCHERS[op[1]], timeout=0)
                    except otp.ReceiveTimeout:
                        assert expected is None
                    else:
                        assert expected is not None
                        assert got == model.pop(expected)
                else:
                    _, key, later = op
                    if not any(_matches(key, v) for v in model + later):
                        later = [*later, {"int": 1, "str": "s", "bytes": b"b", "tuple": (0,)}.get(key, 7)]
                    # Messages keep arriving (one per scheduling step) while we wait.
                    otp.spawn(_feed, me, later)
                    model.extend(later)
                    got = await otp.receive(MATCHERS[key])
                    expected = next(i for i, v in enumerate(model) if _matches(key, v))
                    assert got == model.pop(expected)
                    await trio.testing.wait_all_tasks_blocked()
                info = otp.process_info(me)
                assert info is not None
                assert info.statistics.message_queue_len == len(model)
            rest = []
            while True:
                try:
                    rest.append(otp.receive_nowait())
                except trio.WouldBlock:
                    break
            assert rest == model

    run_in_node(main)


# -- (b) restart intensity against a reference model ---------------------------------------------


def intensity_model(max_restarts: int, max_seconds: float, crash_times: list[float]) -> int | None:
    """The index of the crash that makes the supervisor give up, or None (OTP's rule).

    A restart counts while it is at most ``max_seconds`` old; the supervisor gives up when
    the restarts it counts exceed ``max_restarts``.
    """
    window: list[float] = []
    for i, t in enumerate(crash_times):
        window = [x for x in window if x >= t - max_seconds] + [t]
        if len(window) > max_restarts:
            return i
    return None


async def _worker() -> None:
    await trio.sleep_forever()


@PROPERTY_SETTINGS
@given(
    max_restarts=st.integers(0, 4),
    max_seconds=st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    gaps=st.lists(st.integers(0, 12).map(lambda q: q / 4), min_size=1, max_size=12),
)
def test_restart_intensity_matches_a_sliding_window_model(
    max_restarts: int, max_seconds: float, gaps: list[float]
) -> None:
    crash_times = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    gives_up_at = intensity_model(max_restarts, max_seconds, crash_times)

    async def main() -> None:
        start = trio.current_time()
        async with otp.open_mailbox():
            otp.trap_exit()  # we are linked to the supervisor, which may give up
            sup = await otp.Supervisor.start_link(
                [otp.ChildSpec(id="w", start=lambda: otp.spawn_link(_worker))],
                max_restarts=max_restarts,
                max_seconds=max_seconds,
            )
            sup_ref = otp.monitor(sup)
            for i, t in enumerate(crash_times):
                await trio.sleep_until(start + t)
                assert trio.current_time() - start == t
                ((_, child, _, _),) = await otp.Supervisor.which_children(sup)
                assert child is not None
                ref = otp.monitor(child)
                otp.exit(child, "crash")
                await _wait_down(ref)
                if i == gives_up_at:
                    assert (await _wait_down(sup_ref)).reason is otp.SHUTDOWN
                    return
                # The restart happened (the call is queued after the child's Exit).
                ((_, new, _, _),) = await otp.Supervisor.which_children(sup)
                assert new is not None
                assert new is not child
            assert gives_up_at is None
            await otp.Supervisor.stop(sup)

    run_in_node(main)


def test_intensity_model_examples() -> None:
    assert intensity_model(3, 5, [0, 0, 0]) is None
    assert intensity_model(3, 5, [0, 0, 0, 0]) == 3
    assert intensity_model(3, 5, [0, 1, 2, 5.5, 6.5]) is None
    assert intensity_model(3, 5, [0, 1, 2, 5.5, 6.5, 7]) == 5
    assert intensity_model(1, 2, [0, 2]) == 1
    assert intensity_model(0, 5, [3]) == 0


# -- (c) the children each strategy restarts -------------------------------------------------------

RESTARTS = [otp.Restart.PERMANENT, otp.Restart.TRANSIENT, otp.Restart.TEMPORARY]


@st.composite
def supervision_cases(draw: st.DrawFn) -> tuple[otp.Strategy, list[otp.Restart], int]:
    strategy = draw(st.sampled_from(list(otp.Strategy)))
    restarts = draw(st.lists(st.sampled_from(RESTARTS), min_size=1, max_size=6))
    index = draw(st.integers(0, len(restarts) - 1))
    # The crashing child is one that gets restarted after a crash.
    restarts[index] = draw(st.sampled_from(RESTARTS[:2]))
    return strategy, restarts, index


def strategy_model(
    strategy: otp.Strategy, restarts: list[otp.Restart], index: int
) -> tuple[set[int], set[int], set[int]]:
    """(restarted, dropped, untouched) child indexes after child ``index`` crashes."""
    n = len(restarts)
    if strategy is otp.Strategy.ONE_FOR_ONE:
        group = {index}
    elif strategy is otp.Strategy.ONE_FOR_ALL:
        group = set(range(n))
    else:
        group = set(range(index, n))
    dropped = {i for i in group if i != index and restarts[i] is otp.Restart.TEMPORARY}
    return group - dropped, dropped, set(range(n)) - group


async def _logged_worker(tag: int, log: list[Any]) -> None:
    otp.trap_exit()
    log.append(("start", tag))
    msg = await otp.receive(otp.Exit)
    log.append(("stop", tag))
    raise otp.ProcessExit(msg.reason)


@PROPERTY_SETTINGS
@given(supervision_cases())
def test_each_strategy_restarts_the_children_of_a_model(case: tuple[otp.Strategy, list[otp.Restart], int]) -> None:
    strategy, restarts, index = case
    restarted, dropped, untouched = strategy_model(strategy, restarts, index)

    async def main() -> None:
        log: list[Any] = []

        def spec(i: int) -> otp.ChildSpec:
            return otp.ChildSpec(id=i, start=lambda: otp.spawn_link(_logged_worker, i, log), restart=restarts[i])

        async with otp.open_mailbox():
            sup = await otp.Supervisor.start_link(
                [spec(i) for i in range(len(restarts))], strategy=strategy, max_restarts=1
            )
            await trio.testing.wait_all_tasks_blocked()
            before = {cid: pid for cid, pid, _, _ in await otp.Supervisor.which_children(sup)}
            log.clear()
            ref = otp.monitor(before[index])
            otp.exit(before[index], otp.KILL)
            await _wait_down(ref)
            after = {cid: pid for cid, pid, _, _ in await otp.Supervisor.which_children(sup)}
            assert set(after) == set(range(len(restarts))) - dropped
            assert {i for i in after if after[i] is not before[i]} == restarted
            assert {i for i in after if after[i] is before[i]} == untouched
            assert all(otp.is_alive(p) for p in after.values() if p is not None)
            await trio.testing.wait_all_tasks_blocked()
            # The rest of the group stops newest first (one at a time), then the group
            # starts again in child order (pids are handed out in spawn order).
            others = sorted((restarted | dropped) - {index}, reverse=True)
            assert [e for e in log if e[0] == "stop"] == [("stop", i) for i in others]
            new_pids = [after[i] for i in sorted(restarted)]
            assert new_pids == sorted(new_pids)  # type: ignore[type-var]
            await otp.Supervisor.stop(sup)

    run_in_node(main)

"""``otp.RateLimitedLog``: a few lines per source and template, then a count of the rest."""

from __future__ import annotations

import logging

import pytest

import otp


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


def _log(clock: _Clock, **kw: int) -> otp.RateLimitedLog:
    return otp.RateLimitedLog(logging.getLogger("tests.ratelog"), clock=clock, period=60.0, **kw)


def test_a_source_logs_its_burst_then_is_counted_not_written(
        clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    log = _log(clock, burst=3)
    with caplog.at_level(logging.WARNING, "tests.ratelog"):
        written = [log.warning("10.0.0.1", "refused %s", i) for i in range(10)]
    assert written == [True] * 3 + [False] * 7
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 3
    assert "further similar lines from 10.0.0.1 suppressed for 60 s" in caplog.records[2].getMessage()
    assert log.pending() == 7
    assert log.suppressed_total == 7


def test_the_first_line_after_the_period_says_how_many_were_suppressed(
        clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    log = _log(clock, burst=1)
    with caplog.at_level(logging.WARNING, "tests.ratelog"):
        for _ in range(5):
            log.warning("peer", "bad frame from %s", "peer")
        clock.now = 61.0
        assert log.warning("peer", "bad frame from %s", "peer")
    last = caplog.records[-1].getMessage()
    assert last.startswith("bad frame from peer (4 similar lines from peer suppressed in the last 61 s)")
    assert log.pending() == 0


def test_sources_and_templates_are_limited_separately(clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    log = _log(clock, burst=1)
    with caplog.at_level(logging.INFO, "tests.ratelog"):
        assert log.info("a", "one %s", 1)
        assert not log.info("a", "one %s", 2)
        assert log.info("b", "one %s", 3)
        assert log.info("a", "two %s", 4)
    assert len(caplog.records) == 3


def test_the_source_table_is_bounded(clock: _Clock) -> None:
    log = _log(clock, burst=1, max_sources=10)
    for i in range(1000):
        log.warning(i, "x")
    assert len(log._windows) == 10
    assert log.warning(0, "x")  # forgotten, so it starts afresh


def test_a_disabled_level_is_neither_written_nor_counted(clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    log = _log(clock, burst=1)
    with caplog.at_level(logging.WARNING, "tests.ratelog"):
        assert not log.debug("a", "quiet")
        assert not log.debug("a", "quiet")
    assert log.pending() == 0
    assert not caplog.records

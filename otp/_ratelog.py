"""A logger that lets each source say the same thing a few times, then counts instead.

Bad input is refused at WARNING (or lower), but a client that sends the same bad thing a
thousand times a second must not write a thousand lines a second: the log is the operator's,
not the attacker's. ``RateLimitedLog`` wraps a ``logging.Logger`` and keys every line by
*(what, who)*: the message template and a source (a peer address, a socket id...). Each key
may log ``burst`` lines per ``period`` seconds; later lines in that period are only counted,
and the first line logged after the period ends says how many were suppressed::

    refusals = otp.RateLimitedLog(logging.getLogger("channels.socket"))
    refusals.warning(peer, "refusing join of %r: %d channels already joined", topic, n)
    # ... the 6th identical refusal from ``peer`` within 60 s is not written; later:
    # WARNING refusing join of 'room:1': 100 channels already joined (12 similar lines from
    #         127.0.0.1 suppressed in the last 60 s)

Sources are remembered in a bounded table (least recently used first out), so a flood of
distinct sources costs bounded memory; a source pushed out simply starts afresh.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["RateLimitedLog"]


@dataclass(eq=False, slots=True)
class _Window:
    start: float
    logged: int
    suppressed: int


class RateLimitedLog:
    """Rate-limits repeated log lines per (message template, source).

    Args:
        logger: Where the lines go.
        burst: Lines one key may log per period.
        period: Seconds of the window.
        max_sources: Keys remembered at most (least recently used forgotten first).
        clock: Seconds, monotonic (``time.monotonic``; tests pass their own).
    """

    def __init__(self, logger: logging.Logger, *, burst: int = 5, period: float = 60.0,
                 max_sources: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.burst = max(1, burst)
        self.period = period
        self.max_sources = max(1, max_sources)
        self.clock = clock
        self._windows: OrderedDict[tuple[str, Hashable], _Window] = OrderedDict()
        #: Lines not written since this object was made (all keys).
        self.suppressed_total = 0

    def __repr__(self) -> str:
        return f"<RateLimitedLog {self.logger.name} {self.burst}/{self.period:g}s>"

    def log(self, level: int, source: Hashable, msg: str, *args: object) -> bool:
        """Log ``msg % args`` at ``level`` unless ``source`` said it too often; True if written."""
        if not self.logger.isEnabledFor(level):
            return False
        key = (msg, source)
        now = self.clock()
        windows = self._windows
        window = windows.get(key)
        note = ""
        if window is None:
            window = windows[key] = _Window(now, 0, 0)
            if len(windows) > self.max_sources:
                windows.popitem(last=False)
        else:
            windows.move_to_end(key)
            if now - window.start >= self.period:
                if window.suppressed:
                    note = (f" ({window.suppressed} similar line{'s' if window.suppressed != 1 else ''}"
                            f" from {source} suppressed in the last {now - window.start:.0f} s)")
                window.start, window.logged, window.suppressed = now, 0, 0
        if window.logged >= self.burst:
            window.suppressed += 1
            self.suppressed_total += 1
            return False
        window.logged += 1
        if window.logged == self.burst:
            note += f" (further similar lines from {source} suppressed for {self.period:g} s)"
        if note:
            self.logger.log(level, msg + "%s", *args, note)
        else:
            self.logger.log(level, msg, *args)
        return True

    def debug(self, source: Hashable, msg: str, *args: object) -> bool:
        return self.log(logging.DEBUG, source, msg, *args)

    def info(self, source: Hashable, msg: str, *args: object) -> bool:
        return self.log(logging.INFO, source, msg, *args)

    def warning(self, source: Hashable, msg: str, *args: object) -> bool:
        return self.log(logging.WARNING, source, msg, *args)

    def error(self, source: Hashable, msg: str, *args: object) -> bool:
        return self.log(logging.ERROR, source, msg, *args)

    def pending(self) -> int:
        """Lines suppressed in the current windows and not yet reported."""
        return sum(w.suppressed for w in self._windows.values())

"""A hang guard for the otp tests: every async test body runs under ``trio.fail_after``.

Tests that use ``autojump_clock`` (or ``mock_clock``) get a large *virtual* limit: a deadlocked test then
fails at once, as the clock jumps straight to the deadline. The others get a real-time
limit well above what any of them needs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

REAL_TIME_LIMIT = 20.0
VIRTUAL_TIME_LIMIT = 100_000.0

_HERE = Path(__file__).parent


def _guarded(fn: Callable[..., Awaitable[Any]], limit: float) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        with trio.fail_after(limit):
            return await fn(*args, **kwargs)

    return guarded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function) or _HERE not in item.path.parents:
            continue
        if inspect.iscoroutinefunction(item.obj):
            virtual = "autojump_clock" in item.fixturenames or "mock_clock" in item.fixturenames
            item.obj = _guarded(item.obj, VIRTUAL_TIME_LIMIT if virtual else REAL_TIME_LIMIT)

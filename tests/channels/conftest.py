"""Fixtures of the channel tests: a clean event log, and a helper to run the test endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import otp
from channels import testing
from channels.channel._session import refusals as _session_refusals
from channels.endpoint._endpoint import refusals as _endpoint_refusals

from . import _app


@pytest.fixture(autouse=True)
def _clear_events() -> Iterator[None]:
    # Each test sees refusals logged afresh (the rate limiters are per process, not per test).
    _endpoint_refusals._windows.clear()
    _session_refusals._windows.clear()
    _app.EVENTS.clear()
    yield
    _app.EVENTS.clear()


@pytest.fixture
async def ep(node: otp.Node) -> AsyncIterator[testing.RunningEndpoint]:
    """The test endpoint (``_app.make_endpoint()``), running on a free port."""
    async with testing.open_endpoint(_app.make_endpoint()) as running:
        yield running

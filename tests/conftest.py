"""Shared fixtures: a running ``otp`` node that every process-using test runs in."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from types import FrameType

import pytest
import trio.testing

import otp


@pytest.fixture
async def node() -> AsyncIterator[otp.Node]:
    """An open node; the test must stop every process it started.

    pytest-trio runs the fixture and the test as sibling tasks, so module functions in the
    test body (``otp.spawn``, ``otp.call`` ...) find this node through the Trio run. Before
    the node closes, the fixture waits until everything is blocked and then checks that no
    process is left running, naming the leftovers.
    """
    async with otp.open_node() as node:
        yield node
        await trio.testing.wait_all_tasks_blocked()
        leftovers = node.processes()
        assert not leftovers, f"processes left running after the test: {leftovers!r}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-examples", type=int, default=None, metavar="N",
                     help="examples per fuzzer in tests/fuzz (default: the CI budget; also FUZZ_EXAMPLES=N)")


def pytest_configure(config: pytest.Config) -> None:
    examples = config.getoption("--fuzz-examples")
    if examples is not None:
        import os

        os.environ["FUZZ_EXAMPLES"] = str(examples)


#: A test that runs longer than this has hung (the slowest, the wheel build, takes ~1 min).
#: It then fails with its name, instead of holding CI until its time limit.
HANG_LIMIT = 300


class TestHung(Exception):
    """Raised by SIGALRM in a test that ran past ``HANG_LIMIT`` seconds."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    def hung(signum: int, frame: FrameType | None) -> None:
        raise TestHung(f"{item.nodeid} ran for more than {HANG_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

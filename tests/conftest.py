"""Shared fixtures: a running ``otp`` node that every process-using test runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator

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

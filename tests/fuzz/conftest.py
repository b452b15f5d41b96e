"""One fuzz endpoint for the whole fuzz session (see ``_support.FuzzServer``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._support import FuzzServer


@pytest.fixture(scope="session")
def fuzz_server() -> Iterator[FuzzServer]:
    server = FuzzServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

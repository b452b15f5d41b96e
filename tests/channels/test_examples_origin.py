"""Issue 14 item 1: the examples check the origin of socket requests (they are copied into
production): pages of the host they serve may connect, others get 403 unless the local
development flag (``--any-origin``) is given."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import channels
import otp
from channels import testing
from examples import chat, hello_sockets

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES: list[Callable[..., channels.Endpoint]] = [hello_sockets.make_endpoint, chat.make_endpoint]


@pytest.mark.parametrize("make", EXAMPLES, ids=["hello_sockets", "chat"])
async def test_an_example_refuses_a_socket_from_another_site(node: otp.Node, make: Callable[..., Any]) -> None:
    async with testing.open_endpoint(make(port=0)) as ep:
        with pytest.raises(testing.ConnectRejected) as refused:
            await testing.connect(ep, headers={"origin": "http://evil.example"})
        assert refused.value.status_code == 403
        # A page of the host it serves, and a client that sends no Origin (not a browser).
        await testing.connect(ep, headers={"origin": f"http://127.0.0.1:{ep.port}"})
        await testing.connect(ep)


@pytest.mark.parametrize("make", EXAMPLES, ids=["hello_sockets", "chat"])
async def test_the_development_flag_accepts_any_origin(node: otp.Node, make: Callable[..., Any]) -> None:
    async with testing.open_endpoint(make(port=0, any_origin=True)) as ep:
        await testing.connect(ep, headers={"origin": "http://evil.example"})


@pytest.mark.parametrize("module", ["examples.hello_sockets", "examples.chat"])
def test_the_examples_offer_the_flag_on_their_command_line(module: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "--any-origin" in out

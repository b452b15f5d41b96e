"""The README's sections of issue 16 run as written: the Python client, the emitter, ASGI.

Each Python snippet runs as written: by a fresh interpreter in a temporary directory
(client, emitter), or executed as a module whose endpoint is then started here (ASGI,
whose snippet serves only under ``__main__``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import redis
import trio

import otp
from channels import testing
from channels.client import open_socket
from tests.asgi._http import request
from tests.support.redis_server import start_redis_server

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def snippet(heading: str, language: str = "python") -> str:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match is not None, heading
    return match.group(1)


def run_script(tmp_path: Path, code: str, env: dict[str, str] | None = None) -> list[str]:
    script = tmp_path / "snippet.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_python_client_snippet_joins_pushes_and_receives(tmp_path: Path) -> None:
    lines = run_script(tmp_path, snippet("A Python client"))
    assert lines == ["{'hello': 'ann'}", "ok {'echo': {'n': 1}}", "shout {'n': 1}"]


def test_the_emitter_snippet_publishes_the_documented_envelope(tmp_path: Path) -> None:
    with start_redis_server() as server:
        listener = redis.Redis.from_url(server.url)
        pubsub = listener.pubsub()
        pubsub.subscribe("phx:Chat.Endpoint.PubSub")
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # type: ignore[index]
        run_script(tmp_path, snippet("Broadcasting from other processes"), {"REDIS_URL": server.url})
        first = pubsub.get_message(timeout=5)
        second = pubsub.get_message(timeout=5)
        pubsub.close()
        listener.close()
    assert first is not None
    assert second is not None
    assert b'"topic":"room:lobby","event":"new_msg","payload":{"body":"from a Celery task"' in first["data"]
    assert b'"topic":"user_socket:42","event":"disconnect"' in second["data"]


async def test_the_asgi_snippet_broadcasts_from_a_fastapi_handler(node: otp.Node) -> None:
    module = types.ModuleType("readme_asgi")
    exec(compile(snippet("ASGI apps on the endpoint"), "README.md", "exec"), module.__dict__)
    endpoint = module.endpoint
    async with testing.open_endpoint(endpoint) as ep, open_socket(f"ws://127.0.0.1:{ep.port}/socket") as socket:
        room = socket.channel("room:lobby")
        await room.join()
        response = await request(ep.port, "POST", "/api/rooms/lobby/messages",
                                 [("content-type", "application/json")], b'{"body": "hi"}')
        assert (response.status, response.body) == (200, b'{"sent":true}')
        with trio.fail_after(5):
            message = await room.receive()
        assert (message.event, message.payload) == ("new_msg", {"body": "hi"})

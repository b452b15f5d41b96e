"""The README's seed transcript replays, frame for frame, against ``examples.hello_sockets``.

The block under "## The seed transcript and join_ref" is the seed's two wscat sessions
(/work/shared/seeds, Real-Time Phoenix) with the join replies Phoenix 1.8 sends: ``$``
lines open a new WebSocket, ``>`` lines are sent, ``<`` lines must come back (as JSON).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import otp
from channels import testing
from examples.hello_sockets import make_endpoint

from ._wire import Text, WebsocketClient

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def transcript() -> list[str]:
    section = README.split("## The seed transcript and join_ref", 1)[1]
    match = re.search(r"```\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1).splitlines()


async def test_the_readme_seed_transcript_replays_with_phoenix_1_8_join_refs(node: otp.Node) -> None:
    lines = transcript()
    assert sum(line.startswith("$ wscat") for line in lines) == 2
    async with testing.open_endpoint(make_endpoint(port=0)) as ep:
        client: WebsocketClient | None = None
        for line in lines:
            kind, _, rest = line.partition(" ")
            if kind == "$":
                path = re.search(r"ws://localhost:4000(\S+)'", rest)
                assert path is not None
                if client is not None:
                    await client.close()
                client = await WebsocketClient.connect(ep.nursery, ep.port, path.group(1), None)
            elif kind == ">":
                assert client is not None
                await client.send(rest)
            elif kind == "<":
                assert client is not None
                got = await client.assert_receive(lambda m: isinstance(m, Text))
                assert json.loads(got.text) == json.loads(rest), line
        assert client is not None
        await client.refute_receive(lambda m: isinstance(m, Text))

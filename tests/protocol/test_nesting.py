"""Issue 14 item 8: one nesting limit, on the way in, so that anything accepted can be echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.protocol import (
    MAX_NESTING,
    V1_JSON_SERIALIZER,
    V2_JSON_SERIALIZER,
    InvalidMessageError,
    ReplyMessage,
    Serializer,
)


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def _message(serializer: Serializer, payload: Any) -> str:
    if serializer is V1_JSON_SERIALIZER:
        return json.dumps({"topic": "t", "event": "echo", "payload": payload, "ref": "1"})
    return json.dumps(["1", "1", "t", "echo", payload])


@pytest.mark.parametrize("serializer", [V1_JSON_SERIALIZER, V2_JSON_SERIALIZER], ids=["v1", "v2"])
def test_the_deepest_message_accepted_can_be_echoed_in_a_reply(serializer: Serializer) -> None:
    message = serializer.decode(_message(serializer, _deep(MAX_NESTING - 1)), binary=False)
    frame = serializer.encode_reply(ReplyMessage("t", "ok", message.payload, "1", "1"))
    assert frame.data


@pytest.mark.parametrize("serializer", [V1_JSON_SERIALIZER, V2_JSON_SERIALIZER], ids=["v1", "v2"])
@pytest.mark.parametrize("levels", [MAX_NESTING, 254, 255, 900])
def test_a_message_nested_deeper_than_the_limit_is_refused_on_the_way_in(serializer: Serializer,
                                                                        levels: int) -> None:
    with pytest.raises(InvalidMessageError, match=f"nested deeper than {MAX_NESTING} levels"):
        serializer.decode(_message(serializer, _deep(levels)), binary=False)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    message = V2_JSON_SERIALIZER.decode(json.dumps(["1", "1", "t", "echo", {"s": "[{" * 5000}]), binary=False)
    assert message.payload == {"s": "[{" * 5000}

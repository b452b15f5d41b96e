"""channels.telemetry: attach, detach, execute, and a failing handler is detached and logged once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from channels import telemetry


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    for handler_id, _event in telemetry.list_handlers():
        telemetry.detach(handler_id)
    assert telemetry.ACTIVE == {}


def test_attached_handler_gets_event_measurements_and_metadata_in_attachment_order() -> None:
    seen: list[tuple[str, Any, Any, Any]] = []

    def first(event: telemetry.Event, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        seen.append(("first", event, dict(m), dict(md)))

    def second(event: telemetry.Event, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        seen.append(("second", event, dict(m), dict(md)))

    telemetry.attach("a", telemetry.CHANNEL_JOINED, first)
    telemetry.attach("b", [telemetry.CHANNEL_JOINED, telemetry.BROADCAST], second)
    telemetry.execute(telemetry.CHANNEL_JOINED, {"duration": 0.5}, {"topic": "room:1"})
    telemetry.execute(telemetry.BROADCAST, {"deliveries": 3}, {"topic": "room:1"})
    telemetry.execute(telemetry.SOCKET_CLOSED, {"count": 1}, {})
    assert seen == [
        ("first", telemetry.CHANNEL_JOINED, {"duration": 0.5}, {"topic": "room:1"}),
        ("second", telemetry.CHANNEL_JOINED, {"duration": 0.5}, {"topic": "room:1"}),
        ("second", telemetry.BROADCAST, {"deliveries": 3}, {"topic": "room:1"}),
    ]
    assert sorted(telemetry.list_handlers(("channels", "channel_joined"))) == [
        ("a", telemetry.CHANNEL_JOINED), ("b", telemetry.CHANNEL_JOINED)]


def test_detach_removes_the_handler_and_empties_active_when_none_is_left() -> None:
    calls: list[telemetry.Event] = []
    telemetry.attach("x", telemetry.EVENTS, lambda e, m, md: calls.append(e))
    assert set(telemetry.ACTIVE) == set(telemetry.EVENTS)
    assert telemetry.detach("x") is True
    assert telemetry.detach("x") is False
    assert telemetry.ACTIVE == {}
    telemetry.execute(telemetry.BROADCAST, {}, {})
    assert calls == []


def test_attaching_an_id_twice_or_a_malformed_event_is_refused() -> None:
    telemetry.attach("dup", telemetry.BROADCAST, lambda e, m, md: None)
    with pytest.raises(ValueError, match="already attached"):
        telemetry.attach("dup", telemetry.BROADCAST, lambda e, m, md: None)
    with pytest.raises(ValueError, match="non-empty tuple of strings"):
        telemetry.attach("bad", ["channels.broadcast"], lambda e, m, md: None)  # type: ignore[list-item]


def test_a_raising_handler_is_detached_and_logged_once_and_others_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def broken(event: telemetry.Event, m: Mapping[str, Any], md: Mapping[str, Any]) -> None:
        raise RuntimeError("handler bug")

    telemetry.attach("broken", telemetry.BROADCAST, broken)
    telemetry.attach("fine", telemetry.BROADCAST, lambda e, m, md: ran.append("fine"))
    with caplog.at_level("ERROR", logger="channels.telemetry"):
        telemetry.execute(telemetry.BROADCAST, {}, {})
        telemetry.execute(telemetry.BROADCAST, {}, {})
    assert ran == ["fine", "fine"]
    assert [r.getMessage() for r in caplog.records] == [
        "telemetry handler 'broken' failed on ('channels', 'broadcast') and was detached"]
    assert telemetry.list_handlers() == [("fine", telemetry.BROADCAST)]

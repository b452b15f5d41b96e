"""PathPattern and Router: segments, :vars, globs, first match wins."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from channels.http import PathPattern, Request, Router


def test_literal_pattern_matches_exactly() -> None:
    pattern = PathPattern.compile("/socket/websocket")
    assert pattern.match("/socket/websocket") == {}
    assert pattern.match("/socket/longpoll") is None
    assert pattern.match("/socket") is None
    assert pattern.match("/socket/websocket/extra") is None
    assert pattern.match("socket/websocket") is None


def test_trailing_slash_is_tolerated() -> None:
    pattern = PathPattern.compile("/socket/websocket")
    assert pattern.match("/socket/websocket/") == {}


def test_variables_capture_whole_segments() -> None:
    pattern = PathPattern.compile("/socket/:tenant/websocket")
    assert pattern.variables == ("tenant",)
    assert pattern.match("/socket/acme/websocket") == {"tenant": "acme"}
    assert pattern.match("/socket/websocket") is None
    assert pattern.match("/socket/a/b/websocket") is None


def test_variables_in_mount_and_transport_path() -> None:
    pattern = PathPattern.compile("/ws/:tenant/:region/longpoll")
    assert pattern.match("/ws/acme/eu/longpoll") == {"tenant": "acme", "region": "eu"}


def test_glob_captures_the_rest_of_the_path() -> None:
    pattern = PathPattern.compile("/assets/*path")
    assert pattern.match("/assets/js/app.js") == {"path": "js/app.js"}
    assert pattern.match("/assets") == {"path": ""}
    assert pattern.match("/other/x") is None


def test_root_pattern_matches_only_root() -> None:
    assert PathPattern.compile("/").match("/") == {}
    assert PathPattern.compile("/").match("/x") is None


def test_request_segments_keep_encoded_slashes_inside_a_variable() -> None:
    request = Request.build(method="GET", target="/socket/a%2Fb/websocket")
    pattern = PathPattern.compile("/socket/:tenant/websocket")
    assert pattern.match_segments(request.path_segments) == {"tenant": "a/b"}


@pytest.mark.parametrize("bad", ["socket", "/socket/:", "/a/:x/:x", "/*rest/more", "/:1abc"])
def test_invalid_patterns_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        PathPattern.compile(bad)


def test_router_returns_the_first_matching_route() -> None:
    router: Router[str] = Router(
        [
            ("/socket/websocket", "ws"),
            ("/socket/:transport", "other"),
            ("/*path", "static"),
        ]
    )
    match = router.match("/socket/websocket")
    assert match is not None
    assert (match.handler, match.params) == ("ws", {})
    match = router.match("/socket/longpoll")
    assert match is not None
    assert (match.handler, match.params) == ("other", {"transport": "longpoll"})
    match = router.match(("index.html",))
    assert match is not None
    assert (match.handler, match.params) == ("static", {"path": "index.html"})


def test_router_without_match_returns_none() -> None:
    router: Router[int] = Router()
    router.add("/a", 1)
    assert router.match("/b") is None
    assert [p.source for p, _ in router.routes] == ["/a"]


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~", min_size=1, max_size=10)


@given(values=st.lists(_segment, min_size=1, max_size=4))
def test_vars_pattern_round_trips_its_values(values: list[str]) -> None:
    names = [f"v{i}" for i in range(len(values))]
    pattern = PathPattern.compile("/x/" + "/".join(f":{n}" for n in names))
    assert pattern.match("/x/" + "/".join(values)) == dict(zip(names, values, strict=True))

"""Request.build: target forms, decoding, headers, host and port."""

from __future__ import annotations

import pytest

from channels.http import BadRequest, Request


def test_origin_form_target_is_split_and_decoded() -> None:
    request = Request.build(method="GET", target="/a%20b/c?x=1+2&y=%C3%A9&flag")
    assert request.raw_path == "/a%20b/c"
    assert request.path == "/a b/c"
    assert request.query_string == "x=1+2&y=%C3%A9&flag"
    assert request.query_params == (("x", "1 2"), ("y", "é"), ("flag", ""))
    assert request.path_segments == ("a b", "c")


def test_query_dict_last_value_wins() -> None:
    request = Request.build(method="GET", target="/lp?token=user&vsn=2.0.0&token=lp")
    assert request.query_dict() == {"token": "lp", "vsn": "2.0.0"}


def test_absolute_form_target_is_accepted() -> None:
    request = Request.build(method="GET", target="http://example.com/x?y=1")
    assert (request.path, request.query_string) == ("/x", "y=1")


def test_asterisk_target_is_accepted_for_options() -> None:
    assert Request.build(method="OPTIONS", target="*").path == "*"


@pytest.mark.parametrize("target", ["/%ff", "/?a=%ff", "example.com:443", "ftp://x/y"])
def test_bad_targets_raise_bad_request(target: str) -> None:
    with pytest.raises(BadRequest):
        Request.build(method="GET", target=target)


def test_headers_are_lowercased_and_kept_in_order() -> None:
    request = Request.build(method="GET", target="/", headers=[("X-A", "1"), ("Host", "h"), ("x-a", "2")])
    assert request.headers == (("x-a", "1"), ("host", "h"), ("x-a", "2"))
    assert request.raw_headers[0] == (b"X-A", b"1")
    assert request.header("X-a") == "1"
    assert request.header_values("x-a") == ["1", "2"]
    assert request.header("missing") is None


@pytest.mark.parametrize(
    ("host", "scheme", "expected"),
    [
        ("example.com", "http", ("example.com", 80)),
        ("example.com", "https", ("example.com", 443)),
        ("example.com:4000", "http", ("example.com", 4000)),
        ("[::1]:4000", "http", ("::1", 4000)),
        ("[::1]", "https", ("::1", 443)),
    ],
)
def test_host_and_port_come_from_the_host_header(host: str, scheme: str, expected: tuple[str, int]) -> None:
    request = Request.build(method="GET", target="/", headers=[("Host", host)], scheme=scheme)
    assert (request.host, request.port) == expected


def test_host_falls_back_to_the_local_address() -> None:
    request = Request.build(method="GET", target="/", local=("10.0.0.1", 4000))
    assert (request.host, request.port) == ("10.0.0.1", 80)

"""Pure connect policy: check_origin, subprotocols, auth token, connect_info, vsn, upgrade validation."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given, strategies as st

from channels.http import (
    URI,
    InvalidAuthToken,
    Request,
    build_connect_info,
    check_origin,
    extract_auth_token,
    longpoll_bad_request,
    longpoll_preflight,
    longpoll_response,
    parse_subprotocols,
    parse_uri,
    parse_vsn,
    select_subprotocol,
    validate_check_origin,
)
from channels.protocol._wsconnection import check_upgrade

ENDPOINT = "host.com"


def allowed(origin: str | None, policy: object, **kw: object) -> bool:
    return check_origin(origin, policy, endpoint_host=ENDPOINT, **kw)  # type: ignore[arg-type]


# -- parse_uri (Elixir URI.parse) ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("http://x.com", "http", "x.com", 80),
        ("https://x.com/", "https", "x.com", 443),
        ("HTTPS://x.com:4000/a?b", "https", "x.com", 4000),
        ("//x.com", None, "x.com", None),
        ("//x.com:88", None, "x.com", 88),
        ("ws://x.com", "ws", "x.com", 80),
        ("http://[::1]:4000", "http", "::1", 4000),
        ("http://user@x.com:", "http", "x.com", 80),
        ("null", None, None, None),
        ("", None, None, None),
        ("file://", "file", None, None),
        ("example.com", None, None, None),
    ],
)
def test_parse_uri_fills_default_ports_like_elixir(
    text: str, scheme: str | None, host: str | None, port: int | None
) -> None:
    uri = parse_uri(text)
    assert (uri.scheme, uri.host, uri.port) == (scheme, host, port)


def test_parse_uri_keeps_path_query_and_fragment() -> None:
    uri = parse_uri("https://u@x.com:8/p/q?a=1#frag")
    assert uri == URI(
        scheme="https",
        userinfo="u",
        host="x.com",
        port=8,
        path="/p/q",
        query="a=1",
        fragment="frag",
        authority="u@x.com:8",
    )


# -- check_origin --------------------------------------------------------------------


def test_missing_origin_is_always_allowed() -> None:
    for policy in (True, False, ["//x.com"], "conn", lambda uri: False):
        assert allowed(None, policy)


def test_check_origin_false_allows_anything_even_invalid_uris() -> None:
    for origin in ("/", "file://", "null", "", "https://evil.com"):
        assert allowed(origin, False)


def test_check_origin_true_compares_only_the_host_with_the_endpoint_host() -> None:
    assert allowed("https://host.com/", True)
    assert allowed("http://host.com:9999", True)
    assert not allowed("https://another.com/", True)
    assert not allowed("https://sub.host.com/", True)


def test_check_origin_true_with_no_endpoint_host_allows_any_host() -> None:
    assert check_origin("https://any.com", True, endpoint_host=None)
    assert not check_origin("null", True, endpoint_host=None)


@pytest.mark.parametrize("origin", ["file://", "null", ""])
@pytest.mark.parametrize("policy", [True, ["//example.com", "http://scheme.com", "//port.com:81"]])
def test_origin_without_host_is_rejected(origin: str, policy: object) -> None:
    assert not allowed(origin, policy)


def test_callable_policy_decides_even_for_origins_without_host() -> None:
    hosts: list[str | None] = []

    def invalid_allowed(uri: URI) -> bool:
        hosts.append(uri.host)
        return uri.host is None

    for origin in ("file://", "null", ""):
        assert allowed(origin, invalid_allowed)
    assert hosts == [None, None, None]
    assert not allowed("http://example.com", invalid_allowed)


def test_callable_policy_receives_the_parsed_origin() -> None:
    def only_example(uri: URI) -> bool:
        return uri.host == "example.com"

    assert allowed("http://example.com/", only_example)
    assert not allowed("http://notallowed.com/", only_example)


def test_listed_origins_match_scheme_and_port_only_when_given() -> None:
    origins = ["//example.com", "http://scheme.com", "//port.com:81"]
    assert not allowed("http://notallowed.com/", origins)
    # Only host match.
    assert allowed("http://example.com/", origins)
    assert allowed("https://example.com/", origins)
    # Scheme + host match (the scheme brings its default port, 80).
    assert allowed("http://scheme.com/", origins)
    assert not allowed("https://scheme.com/", origins)
    assert not allowed("http://scheme.com:8080/", origins)
    # Host + port match.
    assert allowed("http://port.com:81/", origins)
    assert not allowed("http://port.com:82/", origins)


def test_wildcard_matches_the_domain_and_its_subdomains_but_not_a_suffix() -> None:
    origins = ["https://*.ex.com", "http://*.ex.com"]
    assert allowed("http://org1.ex.com", origins)
    assert allowed("https://org1.ex.com", origins)
    assert allowed("https://ex.com", origins)
    assert allowed("https://a.b.ex.com", origins)
    assert not allowed("https://prefix-ex.com", origins)
    assert not allowed("https://ex.com.evil.org", origins)


def test_nested_wildcard_subdomains() -> None:
    origins = ["http://*.foo.example.com"]
    assert allowed("http://org1.foo.example.com", origins)
    assert not allowed("http://org1.bar.example.com", origins)


def test_subdomains_do_not_match_without_a_wildcard() -> None:
    assert not allowed("http://org1.ex.com", ["//ex.com"])


def test_conn_policy_requires_same_scheme_host_and_port_as_the_request() -> None:
    http = {"request_scheme": "http", "request_host": "example.com", "request_port": 80}
    assert allowed("http://example.com", "conn", **http)
    for origin in (
        "https://example.com",
        "ws://example.com",
        "wss://example.com",
        "http://www.example.com",
        "http://www.another.com",
    ):
        assert not allowed(origin, "conn", **http)
    https = {"request_scheme": "https", "request_host": "example.com", "request_port": 443}
    assert allowed("https://example.com", "conn", **https)
    assert not allowed("http://example.com", "conn", **https)
    assert not allowed("https://example.com:4000", "conn", **https)


def test_validate_check_origin_rejects_entries_without_host() -> None:
    validate_check_origin(["https://example.com", "//another.com:888", "//*.other.com"])
    validate_check_origin(True)
    validate_check_origin("conn")
    with pytest.raises(ValueError, match="Expected an origin with a host"):
        validate_check_origin(["example.com"])
    with pytest.raises(ValueError, match="check_origin expects"):
        validate_check_origin("yes")


_label = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8)


@given(sub=st.lists(_label, min_size=1, max_size=3), base=st.lists(_label, min_size=1, max_size=3))
def test_wildcard_accepts_every_subdomain(sub: list[str], base: list[str]) -> None:
    domain = ".".join(base)
    assert allowed(f"https://{'.'.join(sub)}.{domain}", [f"//*.{domain}"])


@given(prefix=_label, base=st.lists(_label, min_size=1, max_size=3))
def test_wildcard_rejects_hosts_that_merely_end_with_the_domain(prefix: str, base: list[str]) -> None:
    domain = ".".join(base)
    assert not allowed(f"https://{prefix}-{domain}", [f"//*.{domain}"])
    assert not allowed(f"https://{prefix}{domain}", [f"//*.{domain}"])


# -- subprotocols ----------------------------------------------------------------------


def test_parse_subprotocols_reads_only_the_first_header_like_plug_list() -> None:
    assert parse_subprotocols([]) is None
    assert parse_subprotocols(["sip , mqtt,, ", "other"]) == ["sip", "mqtt"]
    assert parse_subprotocols([""]) == []


def test_subprotocols_not_configured_accepts_without_header() -> None:
    assert select_subprotocol(["sip"], None) == (True, None)


def test_no_requested_subprotocols_is_accepted_without_header() -> None:
    assert select_subprotocol(None, ["sip"]) == (True, None)


def test_first_configured_subprotocol_that_was_requested_wins() -> None:
    assert select_subprotocol(["sip", "mqtt"], ["sip", "mqtt"]) == (True, "sip")
    assert select_subprotocol(["mqtt", "sip"], ["sip", "mqtt"]) == (True, "sip")
    assert select_subprotocol(["mqtt"], ["sip", "mqtt"]) == (True, "mqtt")


def test_unmatched_subprotocols_are_refused() -> None:
    assert select_subprotocol(["mqtt"], ["sip"]) == (False, None)
    assert select_subprotocol([], ["sip"]) == (False, None)


# -- auth token ----------------------------------------------------------------------------


def btoa_unpadded(token: str) -> str:
    return base64.b64encode(token.encode()).decode().rstrip("=")


def test_auth_token_is_extracted_and_removed_from_the_protocols() -> None:
    header = f"phoenix, base64url.bearer.phx.{btoa_unpadded('user:42/?+')}"
    assert extract_auth_token([header]) == ("user:42/?+", ["phoenix"])


def test_auth_token_as_only_entry_leaves_no_protocol_header() -> None:
    assert extract_auth_token([f"base64url.bearer.phx.{btoa_unpadded('t')}"]) == ("t", None)


def test_auth_token_uses_standard_base64_not_base64url() -> None:
    token = "\u00ff\u00fe>?"  # encodes to characters '+' and '/' in standard base64
    encoded = btoa_unpadded(token)
    assert "+" in encoded or "/" in encoded
    assert extract_auth_token([f"base64url.bearer.phx.{encoded}"])[0] == token


def test_padded_auth_token_is_also_accepted() -> None:
    assert extract_auth_token(["base64url.bearer.phx.dA=="]) == ("t", None)


def test_no_header_or_no_token_leaves_protocols_unchanged() -> None:
    assert extract_auth_token([]) == (None, None)
    assert extract_auth_token(["phoenix, mqtt"]) == (None, ["phoenix", "mqtt"])


def test_two_tokens_are_ignored_like_phoenix() -> None:
    header = "base64url.bearer.phx.YQ, base64url.bearer.phx.Yg, phoenix"
    assert extract_auth_token([header]) == (
        None,
        ["base64url.bearer.phx.YQ", "base64url.bearer.phx.Yg", "phoenix"],
    )


def test_only_the_first_protocol_header_is_searched_for_a_token() -> None:
    assert extract_auth_token(["phoenix", "base64url.bearer.phx.YQ"]) == (None, ["phoenix"])


@pytest.mark.parametrize("bad", ["a", "!!!!", "YQ=", "Y-_Q", "YQ==="])
def test_invalid_base64_token_raises_invalid_auth_token(bad: str) -> None:
    with pytest.raises(InvalidAuthToken, match="base64"):
        extract_auth_token([f"phoenix, base64url.bearer.phx.{bad}"])


def test_non_utf8_token_raises_invalid_auth_token() -> None:
    encoded = base64.b64encode(b"\xff\xfe").decode().rstrip("=")
    with pytest.raises(InvalidAuthToken, match="UTF-8"):
        extract_auth_token([f"base64url.bearer.phx.{encoded}"])


@given(token=st.text(min_size=0, max_size=64).filter(lambda t: "\x00" not in t))
def test_auth_token_round_trips_through_the_js_encoding(token: str) -> None:
    header = f"phoenix, base64url.bearer.phx.{btoa_unpadded(token)}"
    assert extract_auth_token([header]) == (token, ["phoenix"])


# -- connect_info, vsn, upgrade validation ----------------------------------------------------


def ws_request(*extra: tuple[str, str], target: str = "/socket/websocket?vsn=2.0.0") -> Request:
    return Request.build(
        method="GET",
        target=target,
        headers=[
            ("Host", "example.com:4000"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            *extra,
        ],
        peer=("10.0.0.7", 51234),
        local=("10.0.0.1", 4000),
    )


def test_connect_info_has_the_requested_keys() -> None:
    request = ws_request(
        ("User-Agent", "node"),
        ("X-Forwarded-For", "1.2.3.4"),
        ("traceparent", "00-abc-01"),
        ("Sec-WebSocket-Protocol", "phoenix, base64url.bearer.phx.YQ"),
    )
    info = build_connect_info(
        request,
        [
            "peer_data",
            "uri",
            "user_agent",
            "x_headers",
            "sec_websocket_headers",
            "trace_context_headers",
            "auth_token",
            ("custom", 1),
        ],
        auth_token="a",
        subprotocols=["phoenix"],
    )
    assert info["peer_data"] == {"address": "10.0.0.7", "port": 51234, "ssl_cert": None}
    assert info["uri"] == URI(
        scheme="http",
        host="example.com",
        port=4000,
        path="/socket/websocket",
        query="vsn=2.0.0",
        authority="example.com",
    )
    assert info["user_agent"] == "node"
    assert info["x_headers"] == [("x-forwarded-for", "1.2.3.4")]
    assert info["sec_websocket_headers"] == [
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "phoenix"),
    ]
    assert info["trace_context_headers"] == [("traceparent", "00-abc-01")]
    assert info["auth_token"] == "a"
    assert info["custom"] == 1


def test_connect_info_includes_only_requested_keys_and_rejects_unknown_ones() -> None:
    assert build_connect_info(ws_request(), ["user_agent"]) == {"user_agent": None}
    with pytest.raises(ValueError, match="unsupported connect_info key"):
        build_connect_info(ws_request(), ["session"])


def test_connect_info_drops_the_protocol_header_emptied_by_the_token() -> None:
    request = ws_request(("Sec-WebSocket-Protocol", "base64url.bearer.phx.YQ"))
    info = build_connect_info(request, ["sec_websocket_headers"], subprotocols=None)
    assert [name for name, _ in info["sec_websocket_headers"]] == [
        "sec-websocket-key",
        "sec-websocket-version",
    ]


@pytest.mark.parametrize(
    ("query", "vsn"),
    [
        ("", "1.0.0"),
        ("vsn=2.0.0", "2.0.0"),
        ("vsn=1.0.0&vsn=2.0.0", "2.0.0"),
        ("vsn[]=1", None),
        ("vsn[a]=1", None),
        ("vsn=", ""),
    ],
)
def test_parse_vsn_defaults_to_v1_and_rejects_non_strings(query: str, vsn: str | None) -> None:
    request = Request.build(method="GET", target=f"/socket/websocket?{query}")
    assert parse_vsn(request.query_params) == vsn


def validate_websocket_upgrade(request: Request) -> str | None:
    """The upgrade check now lives in the WebSocket connection (``protocol.check_upgrade``)."""
    refused = check_upgrade(request)
    return None if refused is None else refused.reason


def test_valid_upgrade_request_passes_validation() -> None:
    assert validate_websocket_upgrade(ws_request()) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Connection": "close"}, "'connection' header must contain 'upgrade', got [\"close\"]"),
        ({"Upgrade": "bogus"}, "'upgrade' header must contain 'websocket', got [\"bogus\"]"),
        ({"Sec-WebSocket-Key": None}, "'sec-websocket-key' header is absent"),
        ({"Sec-WebSocket-Version": "12"}, "'sec-websocket-version' header must equal '13', got [\"12\"]"),
    ],
)
def test_invalid_upgrade_headers_give_websock_adapter_messages(
    change: dict[str, str | None], message: str
) -> None:
    base = ws_request()
    headers = []
    for name, value in base.raw_headers:
        key = name.decode()
        if key in change:
            new = change[key]
            if new is not None:
                headers.append((key, new))
        else:
            headers.append((key, value.decode()))
    request = Request.build(method="GET", target="/", headers=headers)
    assert validate_websocket_upgrade(request) == message


def test_upgrade_validation_rejects_other_methods_and_http_1_0() -> None:
    post = Request.build(method="POST", target="/", headers=ws_request().headers)
    assert validate_websocket_upgrade(post) == "HTTP method POST unsupported"
    old = Request.build(method="GET", target="/", headers=ws_request().headers, http_version="1.0")
    assert validate_websocket_upgrade(old) == "HTTP version HTTP/1.0 unsupported"


def test_upgrade_header_tokens_are_case_insensitive() -> None:
    request = Request.build(
        method="GET",
        target="/",
        headers=[
            ("Host", "x"),
            ("Upgrade", "WeBsOcKeT"),
            ("Connection", "keep-alive, UpGrAdE"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
    )
    assert validate_websocket_upgrade(request) is None


# -- long-poll responses (§4.2) ------------------------------------------------------------------


def test_longpoll_response_is_http_200_json_uncached_and_cross_origin() -> None:
    response = longpoll_response(b'{"status":410,"token":"t","messages":[]}')
    assert response.status == 200
    headers = dict(response.headers)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert headers["access-control-allow-origin"] == "*"
    assert response.body == b'{"status":410,"token":"t","messages":[]}'


def test_longpoll_preflight_echoes_requested_headers() -> None:
    request = Request.build(
        method="OPTIONS",
        target="/socket/longpoll",
        headers=[
            ("Access-Control-Request-Headers", "x-phoenix-authtoken"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    )
    response = longpoll_preflight(request)
    assert response.status == 200
    assert response.body == b""
    headers = dict(response.headers)
    assert headers["access-control-allow-headers"] == "x-phoenix-authtoken, content-type"
    assert headers["access-control-allow-methods"] == "get, post, options"
    assert headers["access-control-max-age"] == "3600"
    assert headers["access-control-allow-origin"] == "*"


def test_longpoll_other_methods_get_an_empty_400() -> None:
    response = longpoll_bad_request()
    assert (response.status, response.body) == (400, b"")

"""Phoenix.Token compatibility (§7) and the External Term Format codec behind it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import zlib
from typing import Any

import pytest
from hypothesis import given, strategies as st

from channels.protocol import Atom, ETFError, binary_to_term, term_to_binary
from channels.token import (
    ExpiredTokenError,
    InvalidTokenError,
    MissingTokenError,
    TokenError,
    sign,
    verify,
)

SKB = "abc123abc123abc123abc123abc123"
VECTOR = "SFMyNTY.g2gDYQFhAGIAAVGA.z_bq3v7vwvg1Qv4s3SXm7kWtSs2Hgyg29vi3F5Ad5Bo"
NOW = 1_800_000_000.0


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forge(payload: bytes, *, salt: str = "s", protected: str = "SFMyNTY") -> str:
    """Sign an arbitrary ETF payload the way MessageVerifier does."""
    key = hashlib.pbkdf2_hmac("sha256", SKB.encode(), salt.encode(), 1000, 32)
    digest = {"SFMyNTY": "sha256", "SFMzODQ": "sha384", "SFM1MTI": "sha512"}[protected]
    signing_input = f"{protected}.{_b64url(payload)}"
    return signing_input + "." + _b64url(hmac.digest(key, signing_input.encode(), digest))


# -- §7.6 test vector -------------------------------------------------------------------


def test_token_vector_key_derivation_matches() -> None:
    key = hashlib.pbkdf2_hmac("sha256", SKB.encode(), b"id", 1000, 32)
    assert key.hex() == "bd2e641812fc0f1cdba030c565d93dbb1b005dd8dce2bb5d46f921e46379f5d0"


def test_token_vector_payload_is_term_to_binary_of_data_signed_max_age() -> None:
    assert term_to_binary((1, 0, 86400)) == bytes.fromhex("836803610161006200015180")


def test_token_vector_sign_is_byte_identical() -> None:
    assert sign(SKB, "id", 1, signed_at=0) == VECTOR
    assert sign(SKB.encode(), b"id", 1, signed_at=0) == VECTOR


def test_token_vector_verify_is_expired_with_embedded_max_age() -> None:
    with pytest.raises(ExpiredTokenError):
        verify(SKB, "id", VECTOR)


def test_token_vector_verify_with_infinite_max_age_returns_data() -> None:
    assert verify(SKB, "id", VECTOR, max_age=math.inf) == 1


def test_token_vector_verify_with_wrong_salt_is_invalid() -> None:
    with pytest.raises(InvalidTokenError):
        verify(SKB, "not_id", VECTOR, max_age=math.inf)


# -- sign / verify ------------------------------------------------------------------------


def test_token_round_trips_structured_data() -> None:
    data = {"user_id": 99, "roles": ["admin"], "nested": (1, None, True)}
    token = sign(SKB, "user auth", data, signed_at=NOW)
    assert verify(SKB, "user auth", token, now=NOW + 10) == data


def test_token_expires_after_embedded_max_age() -> None:
    token = sign(SKB, "s", "x", signed_at=NOW, max_age=60)
    assert verify(SKB, "s", token, now=NOW + 60) == "x"
    with pytest.raises(ExpiredTokenError):
        verify(SKB, "s", token, now=NOW + 60.002)


def test_verify_max_age_overrides_embedded_max_age() -> None:
    token = sign(SKB, "s", "x", signed_at=NOW, max_age=10)
    assert verify(SKB, "s", token, max_age=100, now=NOW + 50) == "x"
    with pytest.raises(ExpiredTokenError):
        verify(SKB, "s", token, max_age=1, now=NOW + 5)


def test_non_positive_max_age_is_always_expired() -> None:
    token = sign(SKB, "s", "x", signed_at=NOW)
    with pytest.raises(ExpiredTokenError):
        verify(SKB, "s", token, max_age=0, now=NOW)
    with pytest.raises(ExpiredTokenError):
        verify(SKB, "s", sign(SKB, "s", "x", signed_at=NOW, max_age=-1), now=NOW)


def test_infinite_max_age_is_embedded_as_the_infinity_atom() -> None:
    token = sign(SKB, "s", "x", signed_at=0, max_age=math.inf)
    payload = base64.urlsafe_b64decode(token.split(".")[1] + "==")
    assert binary_to_term(payload) == ("x", 0, Atom("infinity"))
    assert verify(SKB, "s", token, now=NOW) == "x"


def test_token_signed_in_the_future_is_invalid() -> None:
    token = sign(SKB, "s", "x", signed_at=NOW + 1)
    with pytest.raises(InvalidTokenError, match="future"):
        verify(SKB, "s", token, now=NOW)


def test_missing_token_raises_missing() -> None:
    with pytest.raises(MissingTokenError):
        verify(SKB, "s", None)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # signature
        lambda t: t.replace("SFMyNTY", "SFMyNTZ"),  # unknown protected header
        lambda t: t + ".extra",
        lambda t: t.split(".", 1)[1],
        lambda t: "",
        lambda t: "SFMyNTY.!!!.abc",
        lambda t: "SFMyNTY.A.abc",  # impossible base64 length
        lambda t: t.replace(t.split(".")[1], _b64url(term_to_binary(("y", 0, 86400)))),
    ],
)
def test_tampered_tokens_are_invalid(mangle: Any) -> None:
    token = sign(SKB, "s", "x", signed_at=NOW)
    with pytest.raises(InvalidTokenError):
        verify(SKB, "s", mangle(token), now=NOW)


def test_non_string_token_is_invalid() -> None:
    with pytest.raises(InvalidTokenError, match="token must be a string, got list"):
        verify(SKB, "s", ["SFMyNTY.a.b"], now=NOW)  # type: ignore[arg-type]


def test_token_with_other_secret_is_invalid() -> None:
    token = sign(SKB, "s", "x", signed_at=NOW)
    with pytest.raises(InvalidTokenError):
        verify("z" * 30, "s", token, now=NOW)


def test_token_errors_share_a_base_class() -> None:
    assert issubclass(InvalidTokenError, TokenError)
    assert issubclass(ExpiredTokenError, TokenError)
    assert issubclass(MissingTokenError, TokenError)


def test_short_secret_key_base_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20 bytes"):
        sign("short", "s", 1)


def test_unsignable_data_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot sign data"):
        sign(SKB, "s", {1, 2})


def test_verify_accepts_bytes_tokens_and_hs384_hs512_headers() -> None:
    payload = term_to_binary(("x", int(NOW * 1000), 60))
    assert verify(SKB, "s", _forge(payload).encode(), now=NOW) == "x"
    assert verify(SKB, "s", _forge(payload, protected="SFMzODQ"), now=NOW) == "x"
    assert verify(SKB, "s", _forge(payload, protected="SFM1MTI"), now=NOW) == "x"
    with pytest.raises(InvalidTokenError, match="ASCII"):
        verify(SKB, "s", "é".encode(), now=NOW)


def test_legacy_two_tuple_and_map_payloads_use_a_one_day_max_age() -> None:
    signed = int(NOW * 1000)
    assert verify(SKB, "s", _forge(term_to_binary(("x", signed))), now=NOW + 86400) == "x"
    legacy_map = {Atom("data"): "y", Atom("signed"): signed}
    assert verify(SKB, "s", _forge(term_to_binary(legacy_map)), now=NOW) == "y"
    with pytest.raises(ExpiredTokenError):
        verify(SKB, "s", _forge(term_to_binary(("x", signed))), now=NOW + 86401)


@pytest.mark.parametrize(
    "term",
    [("x", 1, 2, 3), "just data", ("x", "not a number", 60), ("x", 0, "sixty")],
)
def test_signed_payloads_of_unknown_shape_are_invalid(term: object) -> None:
    with pytest.raises(InvalidTokenError):
        verify(SKB, "s", _forge(term_to_binary(term)), now=NOW)


def test_signed_payload_with_a_pid_is_rejected_as_unsafe() -> None:
    # {:v1, "id", <pid>, "topic"} - Phoenix's long-poll token data carries a pid.
    pid = bytes([88, 119, 13]) + b"nonode@nohost" + bytes(12)
    payload = bytes([131, 104, 3, 104, 2, 119, 2]) + b"v1" + pid + bytes([97, 0, 97, 60])
    with pytest.raises(InvalidTokenError, match="unsafe term rejected: pid"):
        verify(SKB, "s", _forge(payload), now=NOW)


# -- ETF codec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "hex_"),
    [
        (1, "836101"),
        (255, "8361ff"),
        (256, "836200000100"),
        (-1, "8362ffffffff"),
        (2**31, "836e040000000080"),
        (-(2**40), "836e0601000000000001"),
        (1_700_000_000_000, "836e06000068e5cf8b01"),
        (None, "8377036e696c"),
        (True, "83770474727565"),
        (Atom("ok"), "8377026f6b"),
        ("héllo", "836d00000006" + "héllo".encode().hex()),
        (b"\xff", "836d00000001ff"),
        ([], "836a"),
        ([1, 2, 3], "836b0003010203"),
        ([1, "a"], "836c00000002" + "6101" + "6d0000000161" + "6a"),
        ((), "836800"),
        (1.5, "8346" + "3ff8000000000000"),
        ({"b": 1, "a": 2}, "837400000002" + "6d0000000161" + "6102" + "6d0000000162" + "6101"),
    ],
)
def test_term_to_binary_matches_erlang_encoding(term: object, hex_: str) -> None:
    assert term_to_binary(term).hex() == hex_
    decoded = binary_to_term(bytes.fromhex(hex_))
    assert decoded == term or (isinstance(term, bytes) and decoded == term)


def test_etf_map_keys_follow_erlang_term_order() -> None:
    # numbers < atoms < tuples < binaries
    encoded = term_to_binary({"s": 0, (1,): 0, Atom("a"): 0, 5: 0})
    assert binary_to_term(encoded) == {5: 0, Atom("a"): 0, (1,): 0, "s": 0}
    keys_in_order = list(binary_to_term(encoded))
    assert keys_in_order == [5, Atom("a"), (1,), "s"]


def test_etf_decodes_binaries_to_str_when_utf8_else_bytes() -> None:
    assert binary_to_term(term_to_binary(b"abc")) == "abc"
    assert binary_to_term(term_to_binary(b"\x80")) == b"\x80"


def test_etf_decodes_legacy_atoms_and_old_floats() -> None:
    assert binary_to_term(bytes([131, 100, 0, 2]) + b"ok") == Atom("ok")
    assert binary_to_term(bytes([131, 115, 4]) + b"true") is True
    old_float = b"1.50000000000000000000e+00".ljust(31, b"\0")
    assert binary_to_term(bytes([131, 99]) + old_float) == 1.5


def test_etf_decodes_compressed_terms() -> None:
    inner = term_to_binary(["x" * 100])[1:]
    data = bytes([131, 80]) + len(inner).to_bytes(4, "big") + zlib.compress(inner)
    assert binary_to_term(data) == ["x" * 100]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "truncated"),
        (b"\x82a\x01", "version byte 131"),
        (b"\x83", "truncated"),
        (b"\x83a\x01\x00", "1 trailing bytes"),
        (b"\x83m\x00\x00\x00\x05ab", "truncated term"),
        (b"\x83l\x00\x00\x00\x01a\x01a\x02", "improper lists"),
        (b"\x83q", "unsafe term rejected: external fun"),
        (b"\x83p", "unsafe term rejected: fun"),
        (b"\x83Z", "unsafe term rejected: reference"),
        (b"\x83M", "bitstrings"),
        (b"\x83\x01", "unknown term tag 1"),
        (b"\x83h\xff", "tuple arity 255 exceeds"),
        (b"\x83t\x00\x00\x00\x01ja\x01", "unhashable map key"),
        (b"\x83P\x00\x00\x00\x10garbage", "bad compressed term"),
        (b"\x83" + b"h\x01" * 300 + b"a\x01", "nested deeper"),
    ],
)
def test_binary_to_term_rejects_malformed_or_unsafe_input(data: bytes, match: str) -> None:
    with pytest.raises(ETFError, match=match):
        binary_to_term(data)


@pytest.mark.parametrize("term", [{1, 2}, object(), math.nan, math.inf, Atom("a" * 256)])
def test_term_to_binary_rejects_values_without_an_etf_form(term: object) -> None:
    with pytest.raises(ETFError):
        term_to_binary(term)


def _typed(term: object) -> object:
    """A comparable form of ``term`` that tells atoms from strings and tuples from lists."""
    if isinstance(term, dict):
        items = [(_typed(k), _typed(v)) for k, v in term.items()]
        return ("dict", sorted(items, key=repr))
    if isinstance(term, list | tuple):
        return (type(term).__name__, [_typed(t) for t in term])
    return (type(term).__name__, term)


_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**2100), max_value=2**2100)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text(max_size=5).filter(lambda s: s not in ("nil", "true", "false")).map(Atom)
)
_terms = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_terms)
def test_etf_round_trips_every_supported_term(term: object) -> None:
    decoded = binary_to_term(term_to_binary(term))
    assert _typed(decoded) == _typed(term)


@given(st.binary(max_size=64))
def test_binary_to_term_never_raises_anything_but_etf_error(data: bytes) -> None:
    try:
        binary_to_term(b"\x83" + data)
    except ETFError:
        pass


@given(_terms, st.floats(min_value=0, max_value=4e9), st.integers(1, 10**6))
def test_token_round_trips_any_term_within_its_max_age(
    term: object, signed_at: float, max_age: int
) -> None:
    token = sign(SKB, "prop", term, signed_at=signed_at, max_age=max_age)
    assert verify(SKB, "prop", token, now=signed_at + max_age / 2) == term

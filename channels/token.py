"""Phoenix.Token-compatible signed tokens: ``sign`` and ``verify``.

Tokens minted here verify in Elixir with ``Phoenix.Token.verify/4`` and vice versa
(``phoenix: lib/phoenix/token.ex``, ``plug_crypto: lib/plug/crypto.ex`` and
``message_verifier.ex``):

* key = PBKDF2-HMAC-SHA256(secret_key_base, salt, 1000 iterations, 32 bytes), cached;
* payload = ``term_to_binary({data, signed_at_ms, max_age_secs})`` (Erlang External
  Term Format, see :mod:`channels.protocol._etf` for the Python ↔ Erlang mapping);
* token = ``"SFMyNTY." + b64url(payload) + "." + b64url(HMAC-SHA256(key, signing_input))``
  (base64url without padding; ``"SFMyNTY"`` is ``base64("HS256")``).

Example:
    >>> token = sign("abc123abc123abc123abc123abc123", "user auth", 42)
    >>> verify("abc123abc123abc123abc123abc123", "user auth", token)
    42
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
from typing import Any, Final

from channels.protocol import Atom, ETFError, binary_to_term, term_to_binary

__all__ = [
    "DEFAULT_MAX_AGE",
    "ExpiredTokenError",
    "InvalidTokenError",
    "MissingTokenError",
    "TokenError",
    "sign",
    "verify",
]

#: The ``max_age`` embedded in a token when none is given: one day, in seconds.
DEFAULT_MAX_AGE: Final = 86400

_KEY_ITERATIONS: Final = 1000
_KEY_LENGTH: Final = 32
_MIN_SECRET_KEY_BASE: Final = 20
#: Protected header → hashlib digest name, as MessageVerifier accepts them.
_PROTECTED: Final = {"SFMyNTY": "sha256", "SFMzODQ": "sha384", "SFM1MTI": "sha512"}
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_INFINITY: Final = Atom("infinity")
_KEY_CACHE_LIMIT: Final = 1024

_key_cache: dict[tuple[bytes, bytes], bytes] = {}


class TokenError(Exception):
    """Base class of token verification failures."""


class InvalidTokenError(TokenError):
    """The token is malformed, forged, signed with another key/salt, or from the future."""


class ExpiredTokenError(TokenError):
    """The token is older than its max age (or the max age is not positive)."""


class MissingTokenError(TokenError):
    """No token was given (``None``)."""


def _to_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _derive_key(secret_key_base: str | bytes, salt: str | bytes) -> bytes:
    skb = _to_bytes(secret_key_base)
    if len(skb) < _MIN_SECRET_KEY_BASE:
        raise ValueError(
            f"secret_key_base must be at least {_MIN_SECRET_KEY_BASE} bytes, got {len(skb)}"
        )
    salt_b = _to_bytes(salt)
    cache_key = (skb, salt_b)
    key = _key_cache.get(cache_key)
    if key is None:
        # The key is always derived with SHA-256 (plug_crypto's default key_digest);
        # only the HMAC digest follows the token's protected header.
        key = hashlib.pbkdf2_hmac("sha256", skb, salt_b, _KEY_ITERATIONS, _KEY_LENGTH)
        if len(_key_cache) >= _KEY_CACHE_LIMIT:
            _key_cache.clear()
        _key_cache[cache_key] = key
    return key


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    if _B64URL.fullmatch(text) is None:
        return None
    unpadded = text.rstrip("=")
    if len(unpadded) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except ValueError:
        return None


def _now_ms(now: float | None) -> int:
    return time.time_ns() // 1_000_000 if now is None else math.floor(now * 1000)


def sign(
    secret_key_base: str | bytes,
    salt: str | bytes,
    data: Any,
    *,
    signed_at: float | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> str:
    """Sign ``data`` into a token, like ``Phoenix.Token.sign/4``.

    Args:
        secret_key_base: The application secret, at least 20 bytes.
        salt: A namespace for the token, for example ``"user auth"``.
        data: Any term with an ETF form: ``None``, ``bool``, ``int``, ``float``, ``str``,
            ``bytes``, ``tuple``, ``list``, ``dict``, :class:`~channels.protocol.Atom`.
        signed_at: The signing time in seconds since the epoch (default: now).
        max_age: The max age in seconds embedded in the token (default one day);
            ``math.inf`` embeds ``:infinity``.

    Returns:
        The token string.

    Raises:
        ValueError: ``secret_key_base`` is too short, or ``data`` has no ETF form.
    """
    signed_ms = _now_ms(None) if signed_at is None else math.trunc(signed_at * 1000)
    embedded: Any = _INFINITY if max_age == math.inf else max_age
    try:
        payload = term_to_binary((data, signed_ms, embedded))
    except ETFError as exc:
        raise ValueError(f"cannot sign data: {exc}") from None
    key = _derive_key(secret_key_base, salt)
    signing_input = "SFMyNTY." + _b64url_encode(payload)
    mac = hmac.digest(key, signing_input.encode("ascii"), "sha256")
    return signing_input + "." + _b64url_encode(mac)


def verify(
    secret_key_base: str | bytes,
    salt: str | bytes,
    token: str | bytes | None,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> Any:
    """Verify a token and return its data, like ``Phoenix.Token.verify/4``.

    Args:
        secret_key_base: The application secret used to sign.
        salt: The salt used to sign.
        token: The token, or ``None``.
        max_age: The max age in seconds; ``None`` uses the one embedded in the token,
            ``math.inf`` means ``:infinity`` (never expires).
        now: The current time in seconds since the epoch (default: the clock).

    Returns:
        The signed data (see :mod:`channels.protocol._etf` for how terms map to Python:
        binaries come back as ``str`` when valid UTF-8).

    Raises:
        MissingTokenError: ``token`` is ``None``.
        InvalidTokenError: Malformed, forged, wrong key or salt, or signed in the future.
        ExpiredTokenError: Older than ``max_age``, or ``max_age <= 0``.
    """
    if token is None:
        raise MissingTokenError("no token given")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidTokenError("token is not ASCII") from None
    elif not isinstance(token, str):
        # For example a list from a `token[]=...` query string.
        raise InvalidTokenError(f"token must be a string, got {type(token).__name__}")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] not in _PROTECTED:
        raise InvalidTokenError("token is not a signed Phoenix token")
    protected, encoded_payload, encoded_mac = parts
    payload = _b64url_decode(encoded_payload)
    mac = _b64url_decode(encoded_mac)
    if payload is None or mac is None:
        raise InvalidTokenError("token is not valid base64url")
    digest = _PROTECTED[protected]
    key = _derive_key(secret_key_base, salt)
    expected = hmac.digest(key, f"{protected}.{encoded_payload}".encode("ascii"), digest)
    if not hmac.compare_digest(expected, mac):
        raise InvalidTokenError("token signature does not match")
    try:
        term = binary_to_term(payload)
    except ETFError as exc:
        raise InvalidTokenError(f"token payload is not a safe term: {exc}") from None
    data, signed, embedded = _unpack(term)
    _validate_age(signed, embedded if max_age is None else max_age, _now_ms(now))
    return data


def _unpack(term: Any) -> tuple[Any, Any, Any]:
    if isinstance(term, tuple) and len(term) == 3:
        return term[0], term[1], term[2]
    if isinstance(term, tuple) and len(term) == 2:
        return term[0], term[1], DEFAULT_MAX_AGE
    if isinstance(term, dict) and Atom("data") in term and Atom("signed") in term:
        return term[Atom("data")], term[Atom("signed")], DEFAULT_MAX_AGE
    raise InvalidTokenError("token payload has an unknown shape")


def _validate_age(signed: Any, max_age: Any, now_ms: int) -> None:
    if max_age == _INFINITY or max_age == math.inf:
        return
    if isinstance(max_age, bool) or not isinstance(max_age, int | float):
        raise InvalidTokenError(f"token max_age is not a number: {max_age!r}")
    if max_age <= 0:
        raise ExpiredTokenError("token max_age is not positive")
    if isinstance(signed, bool) or not isinstance(signed, int | float):
        raise InvalidTokenError(f"token signed_at is not a number: {signed!r}")
    if signed > now_ms:
        raise InvalidTokenError("token was signed in the future")
    if signed + math.trunc(max_age * 1000) < now_ms:
        raise ExpiredTokenError("token expired")

"""A minimal, safe codec for Erlang's External Term Format (``term_to_binary``).

Phoenix.Token payloads are ``:erlang.term_to_binary({data, signed_at_ms, max_age})``,
so reading and minting tokens that Elixir accepts needs ETF. Only plain data is
supported; anything executable or node-bound (funs, pids, ports, references) is
rejected, like ``Plug.Crypto.non_executable_binary_to_term/2``.

Type mapping (Python ↔ Erlang):

============================  ===========================================
Python                        Erlang
============================  ===========================================
``None``                      atom ``nil``
``True`` / ``False``          atoms ``true`` / ``false``
:class:`Atom` (``str``)       any other atom
``int``                       small integer, integer, or big integer
``float``                     ``NEW_FLOAT_EXT`` (finite only)
``str``                       binary (UTF-8), i.e. an Elixir string
``bytes``                     binary
``tuple``                     tuple
``list``                      proper list (``STRING_EXT`` for small-int lists)
``dict``                      map
============================  ===========================================

Decoding maps every binary to ``str`` when it is valid UTF-8 and to ``bytes``
otherwise (Erlang does not distinguish the two), atoms other than
``nil``/``true``/``false`` to :class:`Atom`, and charlists (``STRING_EXT``) to lists of
ints. Improper lists are rejected.
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any, Final

__all__ = [
    "Atom",
    "ETFError",
    "binary_to_term",
    "term_to_binary",
]

_VERSION: Final = 131
_COMPRESSED: Final = 80
_NEW_FLOAT: Final = 70
_BIT_BINARY: Final = 77
_SMALL_INTEGER: Final = 97
_INTEGER: Final = 98
_FLOAT: Final = 99
_ATOM: Final = 100
_SMALL_TUPLE: Final = 104
_LARGE_TUPLE: Final = 105
_NIL: Final = 106
_STRING: Final = 107
_LIST: Final = 108
_BINARY: Final = 109
_SMALL_BIG: Final = 110
_LARGE_BIG: Final = 111
_SMALL_ATOM: Final = 115
_MAP: Final = 116
_ATOM_UTF8: Final = 118
_SMALL_ATOM_UTF8: Final = 119

_REJECTED_TAGS: Final = {
    68: "distribution header",
    82: "atom cache reference",
    88: "pid",
    89: "port",
    90: "reference",
    101: "reference",
    102: "port",
    103: "pid",
    112: "fun",
    113: "external fun",
    114: "reference",
    117: "fun",
    120: "port",
    121: "local term",
}

_MAX_DEPTH: Final = 256
_MAX_DECOMPRESSED: Final = 16 * 1024 * 1024

_F64: Final = struct.Struct(">d")
_I32: Final = struct.Struct(">i")
_U16: Final = struct.Struct(">H")
_U32: Final = struct.Struct(">I")


class Atom(str):
    """An Erlang atom other than ``nil``, ``true`` and ``false``, for example ``:v1``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


class ETFError(ValueError):
    """A term cannot be encoded to, or decoded from, External Term Format."""


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


def term_to_binary(term: object) -> bytes:
    """Encode ``term`` like ``:erlang.term_to_binary/1`` (uncompressed, OTP ≥ 26 atoms).

    Raises:
        ETFError: ``term`` contains a value with no ETF form (for example a set, an
            arbitrary object, or a non-finite float).
    """
    out = bytearray((_VERSION,))
    _encode(term, out, 0)
    return bytes(out)


def _encode_atom(name: str, out: bytearray) -> None:
    raw = name.encode()
    if len(raw) > 255 * 4 or len(name) > 255:
        raise ETFError(f"atom too long ({len(name)} characters, at most 255)")
    if len(raw) <= 255:
        out += bytes((_SMALL_ATOM_UTF8, len(raw)))
    else:
        out.append(_ATOM_UTF8)
        out += _U16.pack(len(raw))
    out += raw


def _encode_int(value: int, out: bytearray) -> None:
    if 0 <= value <= 255:
        out += bytes((_SMALL_INTEGER, value))
    elif -(2**31) <= value < 2**31:
        out.append(_INTEGER)
        out += _I32.pack(value)
    else:
        magnitude = abs(value)
        digits = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little")
        if len(digits) <= 255:
            out += bytes((_SMALL_BIG, len(digits)))
        else:
            out.append(_LARGE_BIG)
            out += _U32.pack(len(digits))
        out.append(1 if value < 0 else 0)
        out += digits


def _encode_binary(raw: bytes, out: bytearray) -> None:
    out.append(_BINARY)
    out += _U32.pack(len(raw))
    out += raw


# Erlang term order: number < atom < reference < fun < port < pid < tuple < map < nil
# < list < bitstring. Used to emit map keys in the order term_to_binary uses for small
# maps, so tokens are byte-identical to Elixir's for the usual key types.
def _order_key(term: object) -> tuple[int, Any]:
    if term is None or isinstance(term, bool):
        return (1, str(term).lower() if term is not None else "nil")
    if isinstance(term, Atom):
        return (1, str(term))
    if isinstance(term, int | float):
        return (0, term)
    if isinstance(term, tuple):
        return (6, (len(term), tuple(_order_key(t) for t in term)))
    if isinstance(term, str):
        return (10, term.encode())
    if isinstance(term, bytes):
        return (10, term)
    raise TypeError


def _encode(term: object, out: bytearray, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ETFError(f"term nested deeper than {_MAX_DEPTH} levels")
    if term is None:
        _encode_atom("nil", out)
    elif term is True:
        _encode_atom("true", out)
    elif term is False:
        _encode_atom("false", out)
    elif isinstance(term, Atom):
        _encode_atom(term, out)
    elif isinstance(term, int):
        _encode_int(term, out)
    elif isinstance(term, float):
        if not math.isfinite(term):
            raise ETFError(f"Erlang floats are finite, got {term!r}")
        out.append(_NEW_FLOAT)
        out += _F64.pack(term)
    elif isinstance(term, str):
        _encode_binary(term.encode(), out)
    elif isinstance(term, bytes | bytearray | memoryview):
        _encode_binary(bytes(term), out)
    elif isinstance(term, tuple):
        if len(term) <= 255:
            out += bytes((_SMALL_TUPLE, len(term)))
        else:
            out.append(_LARGE_TUPLE)
            out += _U32.pack(len(term))
        for item in term:
            _encode(item, out, depth + 1)
    elif isinstance(term, list):
        if not term:
            out.append(_NIL)
        elif len(term) <= 0xFFFF and all(type(i) is int and 0 <= i <= 255 for i in term):
            out.append(_STRING)
            out += _U16.pack(len(term))
            out += bytes(term)
        else:
            out.append(_LIST)
            out += _U32.pack(len(term))
            for item in term:
                _encode(item, out, depth + 1)
            out.append(_NIL)
    elif isinstance(term, dict):
        out.append(_MAP)
        out += _U32.pack(len(term))
        items = list(term.items())
        try:
            items.sort(key=lambda kv: _order_key(kv[0]))
        except TypeError:
            pass  # mixed or exotic keys: any order decodes to the same map
        for key, value in items:
            _encode(key, out, depth + 1)
            _encode(value, out, depth + 1)
    else:
        raise ETFError(f"cannot encode {type(term).__name__} as an Erlang term")


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise ETFError(f"truncated term: needed {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise ETFError(f"truncated term at offset {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        value: int = _U16.unpack(self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(4))[0]
        return value


def binary_to_term(data: bytes) -> Any:
    """Decode an ETF binary, safely (no executable or node-bound terms).

    Raises:
        ETFError: The data is not a well-formed ETF term of a supported kind, has
            trailing bytes, or contains funs, pids, ports, references or improper lists.
    """
    reader = _Reader(bytes(data))
    if reader.u8() != _VERSION:
        raise ETFError("not an External Term Format binary (missing version byte 131)")
    if reader.pos < len(reader.data) and reader.data[reader.pos] == _COMPRESSED:
        reader.pos += 1
        size = reader.u32()
        if size > _MAX_DECOMPRESSED:
            raise ETFError(f"compressed term too large ({size} bytes)")
        decompressor = zlib.decompressobj()
        try:
            inner = decompressor.decompress(reader.data[reader.pos :], size)
        except zlib.error as exc:
            raise ETFError(f"bad compressed term: {exc}") from None
        if len(inner) != size or not decompressor.eof or decompressor.unconsumed_tail:
            raise ETFError("compressed term size does not match its header")
        reader = _Reader(inner)
    term = _decode(reader, 0)
    if reader.pos != len(reader.data):
        raise ETFError(f"{len(reader.data) - reader.pos} trailing bytes after the term")
    return term


def _atom(raw: bytes, *, latin1: bool) -> Any:
    try:
        name = raw.decode("latin-1" if latin1 else "utf-8")
    except UnicodeDecodeError:
        raise ETFError("atom is not valid UTF-8") from None
    if name == "nil":
        return None
    if name == "true":
        return True
    if name == "false":
        return False
    return Atom(name)


def _binary(raw: bytes) -> str | bytes:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def _decode(r: _Reader, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ETFError(f"term nested deeper than {_MAX_DEPTH} levels")
    tag = r.u8()
    if tag == _SMALL_INTEGER:
        return r.u8()
    if tag == _INTEGER:
        value: int = _I32.unpack(r.take(4))[0]
        return value
    if tag == _BINARY:
        return _binary(r.take(r.u32()))
    if tag == _SMALL_ATOM_UTF8:
        return _atom(r.take(r.u8()), latin1=False)
    if tag == _ATOM_UTF8:
        return _atom(r.take(r.u16()), latin1=False)
    if tag == _SMALL_ATOM:
        return _atom(r.take(r.u8()), latin1=True)
    if tag == _ATOM:
        return _atom(r.take(r.u16()), latin1=True)
    if tag in (_SMALL_TUPLE, _LARGE_TUPLE):
        arity = r.u8() if tag == _SMALL_TUPLE else r.u32()
        if arity > len(r.data) - r.pos:
            raise ETFError(f"tuple arity {arity} exceeds the remaining data")
        return tuple(_decode(r, depth + 1) for _ in range(arity))
    if tag == _NIL:
        return []
    if tag == _STRING:
        return list(r.take(r.u16()))
    if tag == _LIST:
        length = r.u32()
        if length > len(r.data) - r.pos:
            raise ETFError(f"list length {length} exceeds the remaining data")
        items = [_decode(r, depth + 1) for _ in range(length)]
        if r.u8() != _NIL:
            raise ETFError("improper lists are not supported")
        return items
    if tag == _MAP:
        arity = r.u32()
        if arity > len(r.data) - r.pos:
            raise ETFError(f"map arity {arity} exceeds the remaining data")
        result: dict[Any, Any] = {}
        for _ in range(arity):
            key = _decode(r, depth + 1)
            try:
                result[key] = _decode(r, depth + 1)
            except TypeError:
                raise ETFError(f"unhashable map key of type {type(key).__name__}") from None
        return result
    if tag in (_SMALL_BIG, _LARGE_BIG):
        n = r.u8() if tag == _SMALL_BIG else r.u32()
        sign = r.u8()
        magnitude = int.from_bytes(r.take(n), "little")
        return -magnitude if sign else magnitude
    if tag == _NEW_FLOAT:
        number: float = _F64.unpack(r.take(8))[0]
        return number
    if tag == _FLOAT:
        text = r.take(31).split(b"\0", 1)[0]
        try:
            return float(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise ETFError("malformed FLOAT_EXT") from None
    if tag == _BIT_BINARY:
        raise ETFError("bitstrings are not supported")
    if tag in _REJECTED_TAGS:
        raise ETFError(f"unsafe term rejected: {_REJECTED_TAGS[tag]}")
    raise ETFError(f"unknown term tag {tag}")

"""Variable types, and the conversions between Python values and a variable's bytes (docs/protocol.md, "Types").

The remote path sends typed values as the protocol's JSON ``value`` and lets the server check them; the local path
converts here and has the extension check the bytes exactly as the server checks them.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from ._errors import InvalidRequestError

ValueType = Literal["bytes", "u64", "i64", "f64", "bool", "string", "json"]

#: The tag a service file stores for each type.
TYPE_TAGS: dict[str, int] = {"bytes": 0, "u64": 1, "i64": 2, "f64": 3, "bool": 4, "string": 5, "json": 6}
TYPES_BY_TAG: dict[int, str] = {tag: name for name, tag in TYPE_TAGS.items()}

_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")

BytesLike = bytes | bytearray | memoryview


class Snapshot(NamedTuple):
    """A variable's value at one version, as a read returns it and a watch yields it.

    ``value`` is the typed value (an ``int``, ``float``, ``bool``, ``str`` or parsed JSON), or the bytes themselves
    for a ``bytes`` variable; ``data`` is always the raw bytes. (A named tuple: cheap to make on the local path.)
    """

    variable: str
    version: int
    data: bytes
    value: Any


#: What a watch yields: the same shape as a read.
Change = Snapshot


@dataclass(frozen=True, slots=True)
class VariableInfo:
    """One entry of :meth:`Service.list`."""

    name: str
    type: str
    capacity: int
    len: int
    version: int
    persistent: bool


def check_type(value_type: str) -> str:
    if value_type not in TYPE_TAGS:
        known = ", ".join(TYPE_TAGS)
        raise InvalidRequestError(f"unknown variable type {value_type!r}: expected one of {known}")
    return value_type


def to_wire(value: object) -> dict[str, Any]:
    """The ``data`` or ``value`` field that carries ``value`` in a request."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"data": bytes(value)}
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN or infinity: an f64 variable takes them as its 8 bytes.
        return {"data": _F64.pack(value)}
    return {"value": value}


def decode(value_type: str, data: bytes) -> Any:
    """The typed value of ``data`` in a variable of ``value_type``."""
    if value_type == "bytes":
        return data
    if value_type == "u64" and len(data) == 8:
        return _U64.unpack(data)[0]
    if value_type == "i64" and len(data) == 8:
        return _I64.unpack(data)[0]
    if value_type == "f64" and len(data) == 8:
        return _F64.unpack(data)[0]
    if value_type == "bool" and len(data) == 1:
        return data == b"\x01"
    if value_type == "string":
        return data.decode("utf-8", errors="replace")
    if value_type == "json":
        return json.loads(data) if data else None
    return data


def _fixed(unpack: Callable[[bytes], tuple[Any, ...]], size: int, value_type: str) -> Callable[[bytes], Any]:
    def decode_fixed(data: bytes) -> Any:
        return unpack(data)[0] if len(data) == size else decode(value_type, data)

    return decode_fixed


#: Decoders by type tag, for the local read's hot path (``bytes`` has none: its value is its data).
DECODERS: dict[int, Callable[[bytes], Any]] = {
    1: _fixed(_U64.unpack, 8, "u64"),
    2: _fixed(_I64.unpack, 8, "i64"),
    3: _fixed(_F64.unpack, 8, "f64"),
    4: lambda data: decode("bool", data),
    5: lambda data: decode("string", data),
    6: lambda data: decode("json", data),
}


def _whole(value: object, value_type: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"expected a number for type {value_type}, got {value!r:.80}")
    if isinstance(value, float) and (not value.is_integer()):
        raise InvalidRequestError(f"value {value!r} does not fit type {value_type}")
    whole = int(value)
    if not low <= whole <= high:
        raise InvalidRequestError(f"value {value!r} does not fit type {value_type}")
    return whole


def encode(value_type: str, value: object) -> bytes:
    """The bytes a variable of ``value_type`` holds for ``value`` (bytes-like values pass as they are, for the
    caller's check of their size and form)."""
    if type(value) is int and value_type == "u64" and 0 <= value < 2**64:
        return _U64.pack(value)  # the common case first
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if value_type == "u64":
        return _U64.pack(_whole(value, "u64", 0, 2**64 - 1))
    if value_type == "i64":
        return _I64.pack(_whole(value, "i64", -(2**63), 2**63 - 1))
    if value_type == "f64":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRequestError(f"expected a number for type f64, got {value!r:.80}")
        return _F64.pack(float(value))
    if value_type == "bool":
        if not isinstance(value, bool):
            raise InvalidRequestError(f"expected a boolean for type bool, got {value!r:.80}")
        return b"\x01" if value else b"\x00"
    if value_type == "string":
        if not isinstance(value, str):
            raise InvalidRequestError(f"expected a string for type string, got {value!r:.80}")
        return value.encode("utf-8")
    if value_type == "json":
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as err:
            raise InvalidRequestError(f"value is not JSON: {err}") from None
    raise InvalidRequestError(f"a bytes variable takes bytes, got {type(value).__name__}")

"""The envelope ``{"type", "data", "id"}`` in the protocol's two encodings (docs/protocol.md, "Encodings").

JSON frames are text and carry bytes as arrays of numbers 0-255; MessagePack frames are binary and carry bytes as
``bin``. Decoding accepts both forms of bytes, and leaves fields it does not know alone.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import msgpack

Encoding = Literal["json", "msgpack"]

SUBPROTOCOL: dict[str, str] = {"json": "commy.v1.json", "msgpack": "commy.v1.msgpack"}


def _json_default(obj: object) -> object:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return list(bytes(obj))
    raise TypeError(f"cannot send a {type(obj).__name__} in a JSON message")


def encode(encoding: Encoding, message_type: str, data: dict[str, Any], request_id: int | None) -> str | bytes:
    """One frame: text for JSON, binary for MessagePack."""
    envelope: dict[str, Any] = {"type": message_type, "data": data}
    if request_id is not None:
        envelope["id"] = request_id
    if encoding == "json":
        return json.dumps(envelope, default=_json_default, separators=(",", ":"), allow_nan=False)
    packed: bytes = msgpack.packb(envelope, use_bin_type=True)
    return packed


class Envelope:
    """A decoded message: its type, its fields, and the id of the request it answers (``None`` for a push)."""

    __slots__ = ("data", "id", "type")

    def __init__(self, message_type: str, data: dict[str, Any], request_id: int | None) -> None:
        self.type = message_type
        self.data = data
        self.id = request_id


def decode(frame: str | bytes) -> Envelope:
    """Decodes a frame of either encoding; raises ``ValueError`` for one that is not an envelope."""
    raw: Any
    if isinstance(frame, str):
        raw = json.loads(frame)
    else:
        raw = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ValueError(f"the server sent something that is not a message: {raw!r:.200}")
    data = raw.get("data")
    request_id = raw.get("id")
    return Envelope(
        raw["type"], data if isinstance(data, dict) else {}, request_id if isinstance(request_id, int) else None
    )


def as_bytes(field: object) -> bytes:
    """A bytes field as it arrived: ``bin`` (MessagePack) or an array of numbers (JSON)."""
    if isinstance(field, (bytes, bytearray)):
        return bytes(field)
    if isinstance(field, list):
        return bytes(field)
    if field is None:
        return b""
    raise ValueError(f"expected bytes, got {type(field).__name__}")

"""The local path: on the server's machine, a service file's descriptor comes over the server's Unix socket
(``SCM_RIGHTS``) and the optional ``commy-local`` extension maps it through Commy's own Rust code, so reads and
writes go through memory without a round trip.

The socket speaks the WebSocket protocol's JSON envelopes, each framed by a 4-byte big-endian length
(docs/protocol.md); the descriptor rides on the ``ServiceFilePath`` reply. This module hands Python values and
``bytes`` only: the extension never exposes an address.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import socket
import struct
import threading
import weakref
from typing import Any, Protocol

from ._errors import (
    CommyError,
    ConnectionLostError,
    InternalError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    error_from_code,
)
from ._queue import ChangeQueue
from ._values import DECODERS, TYPES_BY_TAG, Snapshot, encode

_LENGTH = struct.Struct(">I")
#: The largest frame the server sends (16 MiB).
_MAX_FRAME = 16 << 20
_new_tuple = tuple.__new__

#: The threads that follow mappings for watches. A thread blocked in the extension (without the GIL) must not be
#: there when the interpreter finalizes: it would be killed mid-Rust-frame, which aborts the process. So at exit they
#: are told to stop and joined (each returns within one wait slice).
_followers: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_exiting = threading.Event()


@atexit.register
def _stop_followers() -> None:
    _exiting.set()
    for thread in list(_followers):
        thread.join(2 * _WAIT_SLICE + 1)


#: How long a watch thread sleeps at most before checking that its watch still exists.
_WAIT_SLICE = 0.2


class _Watcher(Protocol):
    """What ``commy_local.MappingWatcher`` offers."""

    def wait(self, timeout: float) -> list[str]: ...


class _Mapping(Protocol):
    """What ``commy_local.Mapping`` offers."""

    writable: bool

    def read(self, variable: str) -> tuple[bytes, int, int]: ...
    def type_of(self, variable: str) -> int: ...
    def write(self, variable: str, data: bytes, type_tag: int) -> int: ...
    def watcher(self) -> _Watcher: ...


def extension() -> Any | None:
    """The ``commy_local`` extension module, or ``None`` if it is not installed."""
    try:
        import commy_local  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return commy_local


class _Frames:
    """Reads length-prefixed frames and the descriptors that arrive with them."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self.fds: list[int] = []

    def read(self) -> dict[str, Any]:
        while True:
            if len(self._buffer) >= 4:
                (length,) = _LENGTH.unpack_from(self._buffer)
                if length > _MAX_FRAME:
                    raise InternalError(f"the local socket announced a frame of {length} bytes")
                if len(self._buffer) >= 4 + length:
                    payload = bytes(self._buffer[4 : 4 + length])
                    del self._buffer[: 4 + length]
                    message = json.loads(payload)
                    if not isinstance(message, dict):
                        raise InternalError("the local socket sent something that is not a message")
                    return message
            data, fds, flags, _ = socket.recv_fds(self._sock, 65536, 4, socket.MSG_CMSG_CLOEXEC)
            self.fds.extend(fds)
            if flags & socket.MSG_CTRUNC:
                raise InternalError("a file descriptor from the server was lost (control message truncated)")
            if not data:
                raise ConnectionLostError("the server closed the local socket")
            self._buffer.extend(data)


def _send(sock: socket.socket, message_type: str, data: dict[str, Any], request_id: int) -> None:
    payload = json.dumps({"type": message_type, "data": data, "id": request_id}, separators=(",", ":")).encode()
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


def _checked(message: dict[str, Any]) -> dict[str, Any]:
    data = message.get("data") or {}
    if message.get("type") == "Error":
        raise error_from_code(str(data.get("code", "INTERNAL_ERROR")), str(data.get("message", "")))
    return dict(data)


def fetch_service_fd(
    socket_path: str, auth: dict[str, Any], tenant: str, service: str, timeout: float
) -> tuple[int, bool]:
    """Authenticates on the local socket and asks for a service's file; returns its descriptor (owned by the caller)
    and whether it is writable. Blocking: run it in a thread."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            frames = _Frames(sock)
            _send(sock, "Authenticate", auth, 1)
            _checked(frames.read())
            _send(sock, "GetServiceFilePath", {"tenant_id": tenant, "service_name": service}, 2)
            try:
                reply = _checked(frames.read())
            except CommyError:
                _close_all(frames.fds)
                raise
            if not frames.fds:
                raise InternalError("the server answered GetServiceFilePath without a file descriptor")
            fd = frames.fds.pop(0)
            _close_all(frames.fds)
            return fd, bool(reply.get("writable"))
    except TimeoutError:
        raise ConnectionLostError(f"the local socket {socket_path} did not answer within {timeout:.3g} s") from None
    except OSError as err:
        raise ConnectionLostError(f"the local socket {socket_path}: {err}") from None


def _close_all(fds: list[int]) -> None:
    import os

    for fd in fds:
        os.close(fd)
    fds.clear()


class LocalService:
    """A mapped service file: reads and writes of its variables, checked as the server checks them."""

    def __init__(self, mapping: _Mapping, service: str) -> None:
        self._mapping = mapping
        self._service = service
        self._errors = _error_types()
        self._types: dict[str, int] = {}

    @property
    def writable(self) -> bool:
        return bool(self._mapping.writable)

    def read(self, variable: str) -> Snapshot:
        try:
            data, version, tag = self._mapping.read(variable)
        except Exception as err:
            raise self._translate(err) from None
        # The local read's hot path: a decoder by tag, and tuple.__new__ instead of the named tuple's constructor.
        decoder = DECODERS.get(tag)
        return _new_tuple(Snapshot, (variable, version, data, data if decoder is None else decoder(data)))

    def write(self, variable: str, value: object) -> int:
        tag = self._types.get(variable)
        if tag is not None:
            try:
                return self._mapping.write(variable, encode(TYPES_BY_TAG.get(tag, "bytes"), value), tag)
            except CommyError:
                raise
            except Exception as err:
                self._types.pop(variable, None)
                if not isinstance(err, self._errors.TypeChanged):
                    raise self._translate(err) from None
        for _ in range(3):
            tag = self._types.get(variable)
            try:
                if tag is None:
                    tag = self._types[variable] = self._mapping.type_of(variable)
                data = encode(TYPES_BY_TAG.get(tag, "bytes"), value)
                return self._mapping.write(variable, data, tag)
            except self._errors.TypeChanged:
                self._types.pop(variable, None)
            except CommyError:
                raise
            except Exception as err:
                self._types.pop(variable, None)
                raise self._translate(err) from None
        raise InternalError(f"variable {variable!r} in service {self._service!r} keeps changing its type")

    def follow(self, queue: ChangeQueue, loop: asyncio.AbstractEventLoop) -> None:
        """Feeds ``queue`` (on ``loop``) with every change of the mapping it wants, from a daemon thread blocked in
        the file's change signal, until the queue is closed. Changes made after this call are reported."""
        watcher = self._mapping.watcher()

        def run() -> None:
            while not queue.closed and not _exiting.is_set():
                for name in watcher.wait(_WAIT_SLICE):
                    if not queue.wants(name):
                        continue
                    try:
                        # The value now, which may be newer than the change seen: never older.
                        change = self.read(name)
                    except CommyError:
                        continue  # deallocated meanwhile
                    try:
                        loop.call_soon_threadsafe(queue.push, change)
                    except RuntimeError:
                        return  # the loop is closed: so is the client

        thread = threading.Thread(target=run, name=f"commy-watch-{self._service}", daemon=True)
        _followers.add(thread)
        thread.start()

    def _translate(self, err: Exception) -> CommyError:
        message = f"{err}"
        if isinstance(err, self._errors.NotFound):
            return NotFoundError(message)
        if isinstance(err, self._errors.ReadOnly):
            return PermissionDeniedError(message)
        if isinstance(err, self._errors.Invalid):
            return InvalidRequestError(message)
        return InternalError(message)


def _error_types() -> Any:
    module = extension()
    if module is None:
        raise InternalError("the commy_local extension is not installed")
    return module


def open_mapping(fd: int, writable: bool, service: str) -> LocalService:
    """Maps the file behind ``fd`` (taking ownership of it) with the extension."""
    module = _error_types()
    try:
        mapping = module.Mapping(fd, writable, service)
    except Exception as err:
        raise InternalError(f"mapping service {service!r}: {err}") from None
    return LocalService(mapping, service)

"""``Service``: a handle to one service and its variables, on either transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._connection import Connection
from ._errors import InvalidRequestError, UnsupportedError
from ._local import LocalService
from ._values import Snapshot, VariableInfo, check_type, to_wire
from ._watch import Watch

if TYPE_CHECKING:
    from ._client import Client


class Service:
    """A handle to one service.

    On the local transport the service file is mapped into this process and :meth:`read` and :meth:`write` go
    through memory (a read-only credential gets a read-only mapping); everything else is a request. On the remote
    transport every call is a request. Either way the results are the same.
    """

    def __init__(self, client: Client, info: dict[str, Any], local: LocalService | None) -> None:
        self._client = client
        self._conn: Connection = client._conn
        #: The server's id for the service.
        self.id = str(info.get("service_id", ""))
        #: The service's name.
        self.name = str(info.get("service_name", ""))
        #: The tenant it belongs to.
        self.tenant = str(info.get("tenant_id", ""))
        self._local = local

    @property
    def transport(self) -> str:
        """``"local"`` when the file is mapped, ``"remote"`` otherwise."""
        return "local" if self._local is not None else "remote"

    def __repr__(self) -> str:
        return f"<commy.Service {self.name!r} of tenant {self.tenant!r} ({self.transport})>"

    async def _request(self, message_type: str, fields: dict[str, Any]) -> dict[str, Any]:
        reply = await self._conn.request(message_type, {"service_id": self.id, **fields})
        return reply.data

    async def allocate(
        self,
        name: str,
        *,
        type: str = "bytes",
        initial: object = None,
        capacity: int | None = None,
        persistent: bool = False,
    ) -> Snapshot:
        """Allocates a variable of ``type`` (``bytes``, ``u64``, ``i64``, ``f64``, ``bool``, ``string``, ``json``)
        and returns its first value. ``initial`` defaults to the type's zero value; ``capacity`` to the type's size
        (8 or 1) or 256 bytes. Needs ``write``."""
        fields: dict[str, Any] = {"variable_name": name, "type": check_type(type), "persistent": persistent}
        if capacity is not None:
            fields["capacity"] = capacity
        if initial is not None:
            wire = to_wire(initial)
            if "data" in wire:
                fields["initial_data"] = wire["data"]
            else:
                fields["value"] = wire["value"]
        data = await self._request("AllocateVariable", fields)
        self._conn.types[(self.id, name)] = type
        return self._conn.snapshot(self.id, data)

    async def deallocate(self, name: str) -> None:
        """Frees a variable. Needs ``write``."""
        await self._request("DeallocateVariable", {"variable_name": name})
        self._conn.types.pop((self.id, name), None)

    async def list(self) -> list[VariableInfo]:
        """Every variable: name, type, capacity, length, version, persistence."""
        data = await self._request("ListVariables", {})
        infos = [
            VariableInfo(
                name=str(v.get("variable_name")),
                type=str(v.get("type", "bytes")),
                capacity=int(v.get("capacity", 0)),
                len=int(v.get("len", 0)),
                version=int(v.get("version", 0)),
                persistent=bool(v.get("persistent", False)),
            )
            for v in data.get("variables") or []
        ]
        for info in infos:
            self._conn.types[(self.id, info.name)] = info.type
        return infos

    async def read(self, name: str) -> Snapshot:
        """Reads a variable: ``.value`` (typed), ``.data`` (bytes) and ``.version``."""
        if self._local is not None:
            return self._local.read(name)
        data = await self._request("ReadVariable", {"variable_name": name})
        if "value" not in data and (self.id, name) not in self._conn.types:
            await self.list()  # learns whether a value-less reply is bytes or an f64 NaN
        return self._conn.snapshot(self.id, data)

    async def write(self, name: str, value: object) -> int:
        """Writes a variable and returns its new version. ``value`` is a Python value of the variable's type, or
        ``bytes`` for its raw bytes. A value that does not fit the type or the capacity raises
        ``InvalidRequestError`` and changes nothing. Needs ``write``."""
        if self._local is not None:
            return self._local.write(name, value)
        data = await self._request("WriteVariable", {"variable_name": name, **to_wire(value)})
        return int(data.get("version", 0))

    async def compare_and_set(self, name: str, value: object, expected_version: int) -> int:
        """Writes ``value`` only if the variable is still at ``expected_version``; returns the new version, or raises
        ``ConflictError`` (with ``current_version``) if another write came first. Always a request to the server,
        on either transport.

        A server that does not know ``expected_version`` would ignore it and write unconditionally; this call
        detects that from the version it got back and raises ``UnsupportedError`` saying so."""
        if isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0:
            raise InvalidRequestError(f"expected_version must be a version number, got {expected_version!r}")
        fields = {"variable_name": name, "expected_version": expected_version, **to_wire(value)}
        data = await self._request("WriteVariable", fields)
        version = int(data.get("version", 0))
        if version != expected_version + 1:
            raise UnsupportedError(
                f"the server at {self._conn.url} ignored expected_version (it does not offer compare-and-set): "
                f"variable {name!r} was written unconditionally and is now at version {version}, "
                f"not {expected_version + 1}"
            )
        return version

    def watch(self, name: str | None = None, *, skip_own_writes: bool = False) -> Watch:
        """Watches one variable, or every variable of the service when ``name`` is ``None``: an async iterator of
        snapshots, the current value first. Use ``async with`` (or ``aclose()``) to end it early.

        With ``skip_own_writes``, after the current value it yields only changes other connections and processes
        made, not this client's writes (the server skips them: ``Subscribe`` with ``skip_own_writes``). Remote
        transport only (``ValueError`` on the local one). The server skips per subscription, which every watch of
        this client on the same variable (or all of them) shares: while one of them does not skip, none does."""
        return Watch(self, name, skip_own_writes)

"""Service ids across servers.

Each server names a service by its own id, so after a move to another server (or to a server that recreated the
service) the same service has a new id. Handles, watches and cached types keep the id they were opened with (the
handle id); the connection translates it to the current server's id on every request, and a push's id back to the
handle ids, after looking every known service up again by tenant and name at each reconnect.
"""

from __future__ import annotations

from typing import Any


class ServiceIds:
    def __init__(self) -> None:
        #: (tenant, name) of every service a handle was opened for, by handle id.
        self._names: dict[str, tuple[str, str]] = {}
        #: The current server's id for a handle id, where it differs.
        self._current: dict[str, str] = {}
        #: The handle ids of a current server's id, where they differ from it.
        self._handles: dict[str, list[str]] = {}

    def remember(self, info: dict[str, Any], tenant: str | None) -> None:
        """A service as a ``CreateService`` or ``GetService`` reply describes it, under its id on this server."""
        handle_id = str(info.get("service_id", ""))
        self._names[handle_id] = (str(info.get("tenant_id") or tenant or ""), str(info.get("service_name", "")))
        self._current.pop(handle_id, None)
        self._rebuild()

    def known(self) -> list[tuple[str, str, str]]:
        """(handle id, tenant, name) of every remembered service, to look up again after a reconnect."""
        return [(handle_id, tenant, name) for handle_id, (tenant, name) in self._names.items()]

    def moved(self, handle_id: str, current_id: str) -> None:
        """The server now in use knows the service of ``handle_id`` as ``current_id``."""
        if current_id == handle_id:
            self._current.pop(handle_id, None)
        else:
            self._current[handle_id] = current_id
        self._rebuild()

    def to_server(self, data: dict[str, Any]) -> dict[str, Any]:
        """A request's fields with its ``service_id`` (if any) as the current server knows it."""
        handle_id = data.get("service_id")
        if not isinstance(handle_id, str) or handle_id not in self._current:
            return data
        return {**data, "service_id": self._current[handle_id]}

    def handles(self, server_id: str) -> list[str]:
        """The handle ids a push's ``service_id`` stands for."""
        return self._handles.get(server_id, [server_id])

    def _rebuild(self) -> None:
        handles: dict[str, list[str]] = {}
        for handle_id, current_id in self._current.items():
            handles.setdefault(current_id, [current_id] if current_id in self._names else []).append(handle_id)
        self._handles = handles

"""``Client`` and ``connect``: a connection to a Commy server and the services of the tenant it authenticated to."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from ._auth import Credential, TokenSource
from ._codec import Encoding
from ._connection import Connection, Settings
from ._errors import CommyError, ConnectionLostError, InternalError, InvalidRequestError, UnsupportedError
from ._local import LocalService, extension, fetch_service_fd, open_mapping
from ._servers import Reconnect
from ._service import Service
from ._url import is_loopback

log = logging.getLogger("commy")

Transport = Literal["auto", "local", "remote"]

#: The client's name and version, as the server logs it.
CLIENT_VERSION = "commy-python/0.1.0"


@dataclass(frozen=True)
class Authenticated:
    """What an authentication established."""

    message: str
    server_version: str
    permissions: list[str]
    local_socket: str | None
    #: The transport services opened from now on use: ``"local"`` or ``"remote"``.
    transport: str


@dataclass(frozen=True)
class ApiKey:
    """A new API key: ``key`` is shown this once."""

    key_id: str
    key: str


@dataclass(frozen=True)
class Token:
    """A short-lived token from :meth:`Client.create_token`, and when it expires (milliseconds since the epoch)."""

    token: str
    expires_at_ms: int


class Client:
    """A connection to a Commy server; use :func:`connect` to make one. An async context manager that closes it."""

    def __init__(self, conn: Connection, transport: Transport) -> None:
        self._conn = conn
        self._wanted: Transport = transport
        self._tenant: str | None = None
        self._local_socket: str | None = None
        self._local_credential: Credential | None = None

    # -- the connection ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The WebSocket URL of the server in use (or last used)."""
        return self._conn.url

    @property
    def urls(self) -> list[str]:
        """Every server's WebSocket URL, in the order the client tries them."""
        return list(self._conn.urls)

    @property
    def tenant(self) -> str | None:
        """The tenant that service calls use: the last one authenticated to."""
        return self._tenant

    @property
    def transport(self) -> str:
        """``"local"`` once an authentication moved the client to the local path, ``"remote"`` otherwise."""
        return "local" if self._local_socket is not None else "remote"

    async def close(self) -> None:
        """Closes the connection. Requests in flight fail and every watch ends; mapped services stay usable."""
        await self._conn.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def heartbeat(self) -> int:
        """A round trip; returns the server's clock in milliseconds since the Unix epoch."""
        reply = await self._conn.request("Heartbeat", {})
        return int(reply.data.get("timestamp", 0))

    async def authenticate(
        self,
        tenant: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        get_token: TokenSource | None = None,
    ) -> Authenticated:
        """Presents a credential for ``tenant`` (``None``: the server itself, for the admin key). Service calls then
        use ``tenant``. The credential is kept to authenticate again after a reconnect; ``get_token`` is called
        each time."""
        credential = Credential.of(tenant, api_key, token, get_token)
        if credential is None:
            raise InvalidRequestError("authenticate needs api_key=, token= or get_token=")
        reply = await self._conn.request("Authenticate", await credential.fields(CLIENT_VERSION))
        self._conn.remember_auth(credential)
        if tenant is not None:
            self._tenant = tenant
        data = reply.data
        local_socket = data.get("local_socket")
        local_socket = str(local_socket) if local_socket else None
        if tenant is not None:
            self._maybe_go_local(local_socket, credential)
        return Authenticated(
            message=str(data.get("message", "")),
            server_version=str(data.get("server_version", "")),
            permissions=[str(p) for p in data.get("permissions") or []],
            local_socket=local_socket,
            transport=self.transport,
        )

    def _maybe_go_local(self, local_socket: str | None, credential: Credential) -> None:
        """Chooses the transport as the Rust SDK does: local when forced, or (``auto``) when the server announces
        its local socket, the URL is loopback and the extension is installed."""
        if self._wanted == "remote":
            return
        forced = self._wanted == "local"
        if local_socket is None:
            if forced:
                raise ConnectionLostError(
                    f"the server at {self.url} announces no local socket, so the local transport cannot be used"
                )
            return
        if extension() is None:
            if forced:
                raise UnsupportedError(
                    "transport='local' needs the commy-local extension: pip install ./clients/python/commy-local"
                )
            return
        if not forced and not is_loopback(self.url):
            return
        self._local_socket = local_socket
        self._local_credential = credential

    def _require_tenant(self) -> str:
        if self._tenant is None:
            raise InvalidRequestError("no tenant selected: authenticate to a tenant before using services")
        return self._tenant

    # -- services ----------------------------------------------------------------------------------------------

    async def create_service(self, name: str) -> Service:
        """Creates a service in the current tenant. Needs ``create_service``."""
        tenant = self._require_tenant()
        reply = await self._conn.request("CreateService", {"tenant_id": tenant, "service_name": name})
        return await self._open(reply.data)

    async def get_service(self, name: str) -> Service:
        """Looks a service up; ``NotFoundError`` if it does not exist (it is never created). Needs ``read``."""
        tenant = self._require_tenant()
        reply = await self._conn.request("GetService", {"tenant_id": tenant, "service_name": name})
        return await self._open(reply.data)

    async def delete_service(self, name: str) -> None:
        """Deletes a service and its variables. Needs ``delete_service``."""
        tenant = self._require_tenant()
        await self._conn.request("DeleteService", {"tenant_id": tenant, "service_name": name})

    async def list_services(self) -> list[str]:
        """The names of the current tenant's services that this credential may see."""
        tenant = self._require_tenant()
        reply = await self._conn.request("ListServices", {"tenant_id": tenant})
        return [str(s.get("service_name")) for s in reply.data.get("services") or []]

    async def _open(self, info: dict[str, Any]) -> Service:
        self._conn.service_ids.remember(info, self._tenant)
        local = None
        if self._local_socket is not None:
            local = await self._map(str(info.get("service_name")))
        return Service(self, info, local)

    async def _map(self, name: str) -> LocalService | None:
        if self._local_socket is None or self._local_credential is None:
            return None
        auth = await self._local_credential.fields(CLIENT_VERSION)
        try:
            fd, writable = await asyncio.to_thread(
                fetch_service_fd,
                self._local_socket,
                auth,
                self._require_tenant(),
                name,
                self._conn.settings.request_timeout,
            )
            return open_mapping(fd, writable, name)
        except CommyError as err:
            if self._wanted == "local" or not isinstance(err, (ConnectionLostError, InternalError)):
                raise
            log.debug("commy: the local socket is not usable (%s); service %r stays remote", err, name)
            return None

    # -- administration ----------------------------------------------------------------------------------------

    async def create_tenant(self, tenant_id: str, name: str | None = None) -> None:
        """Creates a tenant. Needs the server admin key."""
        await self._conn.request("CreateTenant", {"tenant_id": tenant_id, "tenant_name": name or tenant_id})

    async def delete_tenant(self, tenant_id: str) -> None:
        """Deletes a tenant with everything in it. Needs the server admin key."""
        await self._conn.request("DeleteTenant", {"tenant_id": tenant_id})

    async def set_jwt_key(self, tenant_id: str, alg: str, key: str) -> None:
        """Sets the key that verifies ``tenant_id``'s JWTs: ``HS256`` with a shared secret (32 bytes or more), or
        ``RS256``/``EdDSA`` with a public key in PEM form. Needs tenant admin."""
        await self._conn.request("SetJwtKey", {"tenant_id": tenant_id, "alg": alg, "key": key})

    async def create_api_key(
        self, tenant_id: str, name: str, permissions: Sequence[str], services: Sequence[str] | None = None
    ) -> ApiKey:
        """Creates an API key in ``tenant_id`` with ``permissions`` (``admin``, ``create_service``,
        ``delete_service``, ``read``, ``write``), limited to ``services`` patterns if given. Needs tenant admin."""
        fields: dict[str, Any] = {"tenant_id": tenant_id, "name": name, "permissions": list(permissions)}
        if services is not None:
            fields["services"] = list(services)
        reply = await self._conn.request("CreateApiKey", fields)
        return ApiKey(str(reply.data.get("key_id")), str(reply.data.get("key")))

    async def create_token(
        self, ttl_seconds: int, permissions: Sequence[str], services: Sequence[str] | None = None
    ) -> Token:
        """Mints a token for the current tenant that lives ``ttl_seconds`` (at most the server's maximum, and never
        past this client's own credential) and carries ``permissions``, limited to ``services`` patterns if given (else
        to this client's own patterns): never more than this client holds. It dies with this client's credential. An
        application's backend mints; a page (or any client) authenticates with ``token=`` or ``get_token=``."""
        tenant = self._require_tenant()
        fields: dict[str, Any] = {"tenant_id": tenant, "ttl_seconds": ttl_seconds, "permissions": list(permissions)}
        if services is not None:
            fields["services"] = list(services)
        reply = await self._conn.request("CreateToken", fields)
        return Token(str(reply.data.get("token")), int(reply.data.get("expires_at_ms") or 0))


class _Connecting:
    """What :func:`connect` returns: await it for a client, or use it directly with ``async with``."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._client: Client | None = None

    def __await__(self) -> Generator[Any, None, Client]:
        return self._make().__await__()  # type: ignore[no-any-return]

    async def __aenter__(self) -> Client:
        self._client = await self._make()
        return self._client

    async def __aexit__(self, *_: object) -> None:
        if self._client is not None:
            await self._client.close()


def connect(
    url: str | Sequence[str],
    *,
    tenant: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    get_token: TokenSource | None = None,
    encoding: Encoding = "json",
    transport: Transport = "auto",
    request_timeout: float = 10.0,
    connect_timeout: float = 10.0,
    reconnect: bool = True,
    backoff: tuple[float, float] = (0.05, 2.0),
    max_rounds: int | None = None,
    on_reconnect: Callable[[Reconnect], object] | None = None,
    ca_cert: str | os.PathLike[str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> _Connecting:
    """Connects to a Commy server and, given a credential, authenticates.

    ``url`` is ``ws://host:port`` (or ``wss://``), or several (a list, or a comma-separated string): the client uses the
    first that answers and moves to the next when its server dies. ``tenant`` with ``api_key``, ``token`` or
    ``get_token`` (a function returning a fresh token, plain or async) authenticates; ``tenant=None`` with the admin key
    authenticates to the server itself. ``encoding`` is ``"json"`` or ``"msgpack"``. ``transport`` is ``"auto"`` (local
    when the server is on this machine and ``commy-local`` is installed), ``"local"`` or ``"remote"``. After a drop the
    client reconnects, trying the servers round robin with a backoff between rounds (``backoff``: first and longest
    wait, in seconds), authenticates again, resumes every watch and calls ``on_reconnect`` with a :class:`Reconnect`;
    after ``max_rounds`` failed rounds (default: no limit) it closes with ``ConnectionLostError`` naming every server.
    For ``wss://`` URLs the client trusts the system's CAs, plus the PEM file ``ca_cert`` if given (for example a self-
    signed server's ``cert.pem``); ``ssl_context`` replaces all of that with your own context (client certificates,
    pinning).

    Use ``client = await commy.connect(...)`` or ``async with commy.connect(...) as client``.
    """
    if max_rounds is not None and max_rounds < 1:
        raise InvalidRequestError(f"max_rounds must be at least 1 (or None for no limit), not {max_rounds}")
    if encoding not in ("json", "msgpack"):
        raise InvalidRequestError(f"unknown encoding {encoding!r}: expected 'json' or 'msgpack'")
    if transport not in ("auto", "local", "remote"):
        raise InvalidRequestError(f"unknown transport {transport!r}: expected 'auto', 'local' or 'remote'")
    credential = Credential.of(tenant, api_key, token, get_token)
    if ssl_context is None and ca_cert is not None:
        try:
            ssl_context = ssl.create_default_context()
            ssl_context.load_verify_locations(cafile=os.fspath(ca_cert))
        except (OSError, ssl.SSLError) as err:
            raise InvalidRequestError(f"cannot use CA file {os.fspath(ca_cert)!r}: {err}") from None
    settings = Settings(
        request_timeout,
        connect_timeout,
        reconnect,
        backoff[0],
        backoff[1],
        ssl_context,
        max_rounds=max_rounds,
        on_reconnect=on_reconnect,
    )

    async def make() -> Client:
        conn = Connection(url, encoding, settings, CLIENT_VERSION)
        await conn.open()
        client = Client(conn, transport)
        if credential is not None:
            try:
                await client.authenticate(credential.tenant, api_key=api_key, token=token, get_token=get_token)
            except BaseException:
                await client.close()
                raise
        return client

    return _Connecting(make)

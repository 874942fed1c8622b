"""One logical connection to a Commy server: requests matched to replies by id, pushes routed to watches, and after a
drop a reconnection (round robin across the URL list, with backoff between rounds) that authenticates again, subscribes
again and catches each watch up with the value it missed.

A supervisor task owns the link's life; a reader task per link routes what arrives. Callers await :meth:`request`,
which waits for the link to be up (within the request timeout) before sending.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ._auth import Credential
from ._codec import SUBPROTOCOL, Encoding, Envelope, as_bytes, decode, encode
from ._errors import (
    CommyError,
    CommyTimeoutError,
    ConnectionLostError,
    NotFoundError,
    PermissionDeniedError,
    SubscriptionEndedError,
    UnauthorizedError,
    error_from_code,
)
from ._queue import ChangeQueue
from ._servers import Reconnect, no_server_answered, server_urls
from ._service_ids import ServiceIds
from ._values import Snapshot
from ._values import decode as decode_value

log = logging.getLogger("commy")

#: A subscription: the service id and the variable name, or ``"*"`` for every variable of the service.
Key = tuple[str, str]

ALL_VARIABLES = "*"


@dataclass(frozen=True)
class Settings:
    """Timeouts (seconds) and the reconnection policy."""

    request_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect: bool = True
    backoff_initial: float = 0.05
    backoff_max: float = 2.0
    #: For wss:// URLs: the TLS context (None: the system's trusted CAs).
    ssl: ssl.SSLContext | None = None
    #: Rounds through the URL list a reconnection may fail before the connection ends (None: no limit).
    max_rounds: int | None = None
    #: Called (on the event loop) each time the client is up again after a drop.
    on_reconnect: Callable[[Reconnect], object] | None = None


class _Fatal(Exception):
    """Renewing the session after a reconnect failed for good (the server refused the stored credential)."""

    def __init__(self, error: CommyError) -> None:
        super().__init__(str(error))
        self.error = error


class _NotSent(ConnectionLostError):
    """The link was found closed when sending: the request never left."""


class Connection:
    def __init__(self, urls: str | Sequence[str], encoding: Encoding, settings: Settings, client_version: str) -> None:
        self.urls = server_urls(urls)
        self.encoding: Encoding = encoding
        self.settings = settings
        self.client_version = client_version
        self.url_index = 0
        self.loop = asyncio.get_running_loop()
        #: Variable types by (service id, name), as allocations and listings reported them.
        self.types: dict[Key, str] = {}
        self._ws: ClientConnection | None = None
        self._pending: dict[int, asyncio.Future[Envelope]] = {}
        self._next_id = 0
        self._up = asyncio.Event()
        self._closing = asyncio.Event()
        self._ended: CommyError | None = None
        self._auths: list[Credential] = []
        self._watches: dict[Key, list[ChangeQueue]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._pid = os.getpid()
        #: Rounds through the URL list the last reconnection took.
        self._rounds = 0
        #: Each service's id on the server in use, for the id its handles were opened with.
        self.service_ids = ServiceIds()

    @property
    def url(self) -> str:
        """The URL of the server in use (or last used)."""
        return self.urls[self.url_index]

    # -- opening and closing -------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connects to the first server of the list that answers; ``ConnectionLostError`` naming each server and its
        failure if none does."""
        failures = {}
        for index in range(len(self.urls)):
            try:
                ws = await self._dial(self.urls[index])
            except CommyError as err:
                failures[self.urls[index]] = err.message
                continue
            self.url_index = index
            self._ws = ws
            self._supervisor = asyncio.create_task(self._supervise(ws))
            return
        raise no_server_answered(self.urls, failures, rounds=1)

    async def _dial(self, url: str) -> ClientConnection:
        subprotocol = SUBPROTOCOL[self.encoding]
        tls: dict[str, Any] = {"ssl": self.settings.ssl} if url.startswith("wss:") and self.settings.ssl else {}
        try:
            ws = await websockets.connect(
                url,
                subprotocols=[websockets.Subprotocol(subprotocol)],
                open_timeout=self.settings.connect_timeout,
                ping_interval=10,
                ping_timeout=10,
                max_size=None,
                compression=None,
                **tls,
            )
        except ssl.SSLCertVerificationError as err:
            raise ConnectionLostError(
                f"cannot connect to {url}: certificate not trusted: {err.verify_message}"
            ) from None
        except (OSError, TimeoutError, websockets.WebSocketException) as err:
            raise ConnectionLostError(f"cannot connect to {url}: {err or type(err).__name__}") from None
        if ws.subprotocol != subprotocol:
            await ws.close()
            raise ConnectionLostError(f"{url} did not accept the subprotocol {subprotocol}: is it a Commy server?")
        return ws

    async def close(self) -> None:
        """Closes the connection: requests in flight fail, and every watch ends."""
        self._closing.set()
        self._end(ConnectionLostError("the client was closed"), watches_error=None)
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._supervisor is not None and self._supervisor is not asyncio.current_task():
            try:
                await self._supervisor
            except Exception as err:
                log.debug("commy connection task ended with %r", err)

    def _end(self, why: CommyError, watches_error: CommyError | None) -> None:
        if self._ended is None:
            self._ended = why
        self._fail_pending(why)
        for queues in self._watches.values():
            for queue in queues:
                queue.close(watches_error)
        self._watches.clear()
        self._up.set()  # wakes requests waiting for the link; they then see the end

    @property
    def ended(self) -> CommyError | None:
        return self._ended

    def _fail_pending(self, error: CommyError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    # -- requests ------------------------------------------------------------------------------------------------

    def check_usable(self) -> None:
        if os.getpid() != self._pid:
            raise ConnectionLostError(
                f"this client was connected in process {self._pid}; a forked child cannot use its connection: "
                "connect again in the child (mapped services keep working)"
            )
        if self._ended is not None:
            raise self._ended

    async def request(self, message_type: str, data: dict[str, Any]) -> Envelope:
        """Sends a request and returns its success reply; an ``Error`` reply raises its ``CommyError``."""
        self.check_usable()
        timeout = self.settings.request_timeout
        deadline = self.loop.time() + timeout
        while True:
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                raise ConnectionLostError(
                    f"not connected to {self.url} (reconnecting); the {message_type} request was not sent"
                )
            if not self._up.is_set():
                try:
                    await asyncio.wait_for(self._up.wait(), max(remaining, 0))
                except TimeoutError:
                    raise ConnectionLostError(
                        f"not connected to {self.url} (reconnecting); the {message_type} request was not sent"
                    ) from None
                self.check_usable()
            ws = self._ws
            if ws is None:
                self.check_usable()
                await asyncio.sleep(0.01)
                continue
            try:
                reply = await self._call(ws, message_type, data, max(deadline - self.loop.time(), 0.001))
            except _NotSent:
                # The link died under us before the request left: it is safe to send again once reconnected.
                if self._ws is ws:
                    self._up.clear()
                continue
            return _checked(reply)

    async def _call(self, ws: ClientConnection, message_type: str, data: dict[str, Any], timeout: float) -> Envelope:
        """Sends one request on ``ws`` and waits for its reply (an ``Error`` reply included)."""
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Envelope] = self.loop.create_future()
        self._pending[request_id] = future
        try:
            try:
                await ws.send(encode(self.encoding, message_type, self.service_ids.to_server(data), request_id))
            except websockets.ConnectionClosed:
                raise _NotSent(
                    f"the connection to {self.url} dropped; the {message_type} request was not sent"
                ) from None
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise CommyTimeoutError(f"no reply to {message_type} from {self.url} within {timeout:.3g} s") from None
        finally:
            self._pending.pop(request_id, None)

    def fire(self, message_type: str, data: dict[str, Any]) -> None:
        """Sends a request whose reply nobody waits for, if the link is up. Callable from any thread."""

        async def send() -> None:
            ws = self._ws
            if ws is None or not self._up.is_set():
                return
            try:
                await self._call(ws, message_type, data, self.settings.request_timeout)
            except CommyError as err:
                log.debug("commy: %s failed: %s", message_type, err)

        def schedule() -> None:
            if self._ended is None:
                self.loop.create_task(send())

        try:
            self.loop.call_soon_threadsafe(schedule)
        except RuntimeError:
            pass  # the loop is closed: so is the connection

    def remember_auth(self, credential: Credential) -> None:
        self._auths = [a for a in self._auths if a.tenant != credential.tenant] + [credential]

    # -- watches ------------------------------------------------------------------------------------------------

    def register(self, key: Key, queue: ChangeQueue) -> None:
        self._watches.setdefault(key, []).append(queue)

    def subscribe_fields(self, key: Key) -> dict[str, Any]:
        """The ``Subscribe`` of ``key``: it skips the client's own writes only if every watch of it asked to."""
        fields: dict[str, Any] = {"service_id": key[0], "variable_name": key[1]}
        queues = self._watches.get(key, [])
        if queues and all(queue.skip_own_writes for queue in queues):
            fields["skip_own_writes"] = True
        return fields

    def unregister(self, key: Key, queue: ChangeQueue) -> None:
        """Ends a watch; the last one of a subscription unsubscribes. Runs on the loop's thread."""
        queue.close()
        queues = self._watches.get(key)
        if queues is None or queue not in queues:
            return
        queues.remove(queue)
        if not queues:
            del self._watches[key]
            self.fire("Unsubscribe", {"service_id": key[0], "variable_name": key[1]})

    def snapshot(self, service_id: str, data: dict[str, Any]) -> Snapshot:
        """A read reply's or push's ``VariableData`` fields as a snapshot."""
        name = str(data.get("variable_name", ""))
        raw = as_bytes(data.get("data"))
        if "value" in data:
            value = data["value"]
        else:
            # No `value`: a bytes variable, or an f64 holding NaN or an infinity (which JSON cannot carry).
            value_type = self.types.get((service_id, name), "bytes")
            value = decode_value(value_type, raw) if value_type == "f64" else raw
        return Snapshot(name, int(data.get("version", 0)), raw, value)

    # -- the link's life ----------------------------------------------------------------------------------------

    async def _supervise(self, ws: ClientConnection) -> None:
        renew = False
        previous_url = self.url
        while True:
            reader = asyncio.create_task(self._read(ws))
            if renew:
                try:
                    await asyncio.wait_for(self._renew(ws), self.settings.request_timeout)
                except _Fatal as fatal:
                    log.warning("commy: the server refused the stored credential after a reconnect: %s", fatal)
                    self._end(fatal.error, watches_error=fatal.error)
                    await ws.close()
                    await reader
                    return
                except Exception as err:  # a CommyError, a timeout, or the token source's own failure: retry
                    log.debug("commy: renewing the session failed: %r", err)
                    await ws.close()
            if reader.done() or self._closing.is_set():
                pass
            else:
                self._up.set()
                if renew:
                    self._reconnected(previous_url)
            why = await reader
            self._ws = None
            if self._closing.is_set():
                return
            if not self.settings.reconnect:
                self._end(ConnectionLostError(f"{self.url}: {why}"), watches_error=None)
                return
            log.info("commy: connection to %s lost (%s); reconnecting", self.url, why)
            previous_url = self.url
            new = await self._reconnect()
            if new is None:
                return
            ws = new
            self._ws = ws
            renew = True

    async def _read(self, ws: ClientConnection) -> str:
        """Routes every message of ``ws`` until it closes; returns why it did, after failing the requests that were
        waiting on it (so that a renewal in progress learns at once)."""
        why = "the server closed the connection"
        try:
            async for frame in ws:
                try:
                    envelope = decode(frame)
                except ValueError as err:
                    log.warning("commy: ignoring an undecodable message: %s", err)
                    continue
                self._route(envelope)
        except (websockets.ConnectionClosed, OSError) as err:
            why = str(err)
        self._up.clear()
        self._fail_pending(
            ConnectionLostError(
                f"the connection to {self.url} dropped before the reply came ({why}); "
                "the request may or may not have been carried out"
            )
        )
        return why

    def _route(self, envelope: Envelope) -> None:
        if envelope.id is not None:
            future = self._pending.pop(envelope.id, None)
            if future is not None and not future.done():
                future.set_result(envelope)
            return
        if envelope.type == "VariableChanged":
            for service_id in self.service_ids.handles(str(envelope.data.get("service_id", ""))):
                change = self.snapshot(service_id, envelope.data)
                for name in (change.variable, ALL_VARIABLES):
                    for queue in self._watches.get((service_id, name), ()):
                        queue.push(change)
        elif envelope.type == "SubscriptionEnded":
            reason = str(envelope.data.get("reason", "the server ended the subscription"))
            for service_id in self.service_ids.handles(str(envelope.data.get("service_id", ""))):
                key = (service_id, str(envelope.data.get("variable_name", "")))
                for queue in self._watches.pop(key, []):
                    queue.close(SubscriptionEndedError(reason))
        elif envelope.type == "Disconnected":
            log.debug("commy: the server is closing the connection: %s", envelope.data.get("reason"))
        # Any other push is from a newer server: ignored.

    async def _reconnect(self) -> ClientConnection | None:
        """Dials round robin, starting with the server after the one that dropped, waiting a backoff before each
        round, until one answers (``None`` if the client closes). After ``max_rounds`` failed rounds the connection
        ends with ``ConnectionLostError`` naming every server."""
        delay = self.settings.backoff_initial
        failures: dict[str, str] = {}
        self._rounds = 0
        while not self._closing.is_set():
            try:
                await asyncio.wait_for(self._closing.wait(), delay)
                return None
            except TimeoutError:
                pass
            self._rounds += 1
            for step in range(1, len(self.urls) + 1):
                index = (self.url_index + step) % len(self.urls)
                try:
                    ws = await self._dial(self.urls[index])
                except CommyError as err:
                    log.debug("commy: reconnect attempt failed: %s", err)
                    failures[self.urls[index]] = err.message
                    continue
                self.url_index = index
                return ws
            if self.settings.max_rounds is not None and self._rounds >= self.settings.max_rounds:
                error = no_server_answered(self.urls, failures, self._rounds)
                log.warning("commy: giving up: %s", error.message)
                self._end(error, watches_error=error)
                return None
            delay = min(delay * 2, self.settings.backoff_max)
        return None

    def _reconnected(self, previous_url: str) -> None:
        log.info("commy: reconnected to %s", self.url)
        callback = self.settings.on_reconnect
        if callback is None:
            return
        try:
            callback(Reconnect(self.url, previous_url, self._rounds))
        except Exception:
            log.exception("commy: the on_reconnect callback raised")

    async def _renew(self, ws: ClientConnection) -> None:
        """Authenticates again, looks every known service up again (its id may differ on this server), subscribes
        again, and catches every watch up with what changed while down."""
        timeout = self.settings.request_timeout
        for credential in self._auths:
            reply = await self._call(ws, "Authenticate", await credential.fields(self.client_version), timeout)
            try:
                _checked(reply)
            except (UnauthorizedError, PermissionDeniedError) as err:
                raise _Fatal(err) from None
        for handle_id, tenant, name in self.service_ids.known():
            # Another server (or one that made the service again) knows it by another id.
            reply = await self._call(ws, "GetService", {"tenant_id": tenant, "service_name": name}, timeout)
            if reply.type != "Error":
                self.service_ids.moved(handle_id, str(reply.data.get("service_id", "")))
        for key, queues in list(self._watches.items()):
            reply = await self._call(ws, "Subscribe", self.subscribe_fields(key), timeout)
            try:
                _checked(reply)
            except (NotFoundError, PermissionDeniedError) as err:
                # The service or variable is gone, or no longer ours to read: its watches end with why.
                for queue in self._watches.pop(key, []):
                    queue.close(err)
                continue
            await self._catch_up(ws, key, queues)

    async def _catch_up(self, ws: ClientConnection, key: Key, queues: list[ChangeQueue]) -> None:
        service_id, variable = key
        timeout = self.settings.request_timeout
        names = [variable]
        if variable == ALL_VARIABLES:
            reply = _checked(await self._call(ws, "ListVariables", {"service_id": service_id}, timeout))
            entries = reply.data.get("variables") or []
            names = [
                str(v.get("variable_name"))
                for v in entries
                if any(q.last_version(str(v.get("variable_name"))) != v.get("version") for q in queues)
            ]
        for name in names:
            reply = await self._call(ws, "ReadVariable", {"service_id": service_id, "variable_name": name}, timeout)
            if reply.type != "VariableData":
                continue
            change = self.snapshot(service_id, reply.data)
            for queue in queues:
                queue.push(change, catch_up=True)


def _checked(reply: Envelope) -> Envelope:
    """The reply itself, or its ``Error`` as an exception."""
    if reply.type == "Error":
        code = str(reply.data.get("code", "INTERNAL_ERROR"))
        message = str(reply.data.get("message", ""))
        current = reply.data.get("current_version")
        raise error_from_code(code, message, current if isinstance(current, int) else None)
    return reply

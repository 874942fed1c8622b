"""The blocking client: the same calls as the asyncio client, without ``await``.

Each client runs the asyncio client on one private event loop in a daemon thread, started by :func:`connect` and
stopped by :meth:`Client.close`; calls hand their coroutine to that loop and wait for it. On the local transport,
reads and writes skip the loop and go straight to the mapping, from the calling thread.

>>> import commy.sync                                                    # doctest: +SKIP
>>> with commy.sync.connect("ws://127.0.0.1:8080", tenant="acme", api_key="commy_...") as client:
...     weather = client.get_service("weather")
...     weather.write("temperature", 21.5)
...     for change in weather.watch("temperature"):
...         print(change.value, change.version)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

from . import _client
from ._errors import CommyError, CommyTimeoutError, ConnectionLostError, InvalidRequestError
from ._service import Service as AsyncService
from ._values import Snapshot, VariableInfo
from ._watch import Watch as AsyncWatch

T = TypeVar("T")

__all__ = ["Client", "Service", "Watch", "connect"]


class _Loop:
    """A private event loop running in its own daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._serve, name="commy-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Runs ``coro`` on the loop and waits for its result (at most ``timeout`` seconds, if given)."""
        if os.getpid() != self._pid:
            coro.close()
            raise ConnectionLostError(
                f"this client was connected in process {self._pid}; its event loop does not exist in a forked "
                "child: connect again in the child (mapped services keep working)"
            )
        if threading.current_thread() is self._thread:
            coro.close()
            raise InvalidRequestError("a commy.sync call was made from the client's own event-loop thread")
        if not self._thread.is_alive():
            coro.close()
            raise ConnectionLostError("the client is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except CommyError:
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise CommyTimeoutError(f"nothing came within {timeout:.3g} s") from None
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        if self._thread.is_alive() and os.getpid() == self._pid:
            # The threads of the loop's default executor (used to fetch service files) end with it.
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_default_executor(), self.loop).result()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
            self.loop.close()


class Client:
    """A blocking connection to a Commy server; use :func:`connect` to make one. A context manager that closes it."""

    def __init__(self, client: _client.Client, loop: _Loop) -> None:
        self._client = client
        self._loop = loop

    @property
    def url(self) -> str:
        return self._client.url

    @property
    def urls(self) -> list[str]:
        return self._client.urls

    @property
    def tenant(self) -> str | None:
        return self._client.tenant

    @property
    def transport(self) -> str:
        return self._client.transport

    def close(self) -> None:
        """Closes the connection and stops the client's thread. Every watch ends; mapped services stay usable."""
        try:
            self._loop.run(self._client.close())
        except ConnectionLostError:
            pass
        self._loop.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def heartbeat(self) -> int:
        return self._loop.run(self._client.heartbeat())

    def authenticate(self, tenant: str | None = None, **credential: Any) -> _client.Authenticated:
        return self._loop.run(self._client.authenticate(tenant, **credential))

    def create_service(self, name: str) -> Service:
        return Service(self._loop.run(self._client.create_service(name)), self._loop)

    def get_service(self, name: str) -> Service:
        return Service(self._loop.run(self._client.get_service(name)), self._loop)

    def delete_service(self, name: str) -> None:
        self._loop.run(self._client.delete_service(name))

    def list_services(self) -> list[str]:
        return self._loop.run(self._client.list_services())

    def create_tenant(self, tenant_id: str, name: str | None = None) -> None:
        self._loop.run(self._client.create_tenant(tenant_id, name))

    def delete_tenant(self, tenant_id: str) -> None:
        self._loop.run(self._client.delete_tenant(tenant_id))

    def set_jwt_key(self, tenant_id: str, alg: str, key: str) -> None:
        self._loop.run(self._client.set_jwt_key(tenant_id, alg, key))

    def create_api_key(
        self, tenant_id: str, name: str, permissions: Sequence[str], services: Sequence[str] | None = None
    ) -> _client.ApiKey:
        return self._loop.run(self._client.create_api_key(tenant_id, name, permissions, services))

    def create_token(
        self, ttl_seconds: int, permissions: Sequence[str], services: Sequence[str] | None = None
    ) -> _client.Token:
        return self._loop.run(self._client.create_token(ttl_seconds, permissions, services))


class Service:
    """A blocking handle to one service: the calls of :class:`commy.Service` without ``await``."""

    def __init__(self, service: AsyncService, loop: _Loop) -> None:
        self._service = service
        self._loop = loop
        self._local = service._local

    @property
    def id(self) -> str:
        return self._service.id

    @property
    def name(self) -> str:
        return self._service.name

    @property
    def tenant(self) -> str:
        return self._service.tenant

    @property
    def transport(self) -> str:
        return self._service.transport

    def __repr__(self) -> str:
        return repr(self._service)

    def allocate(
        self,
        name: str,
        *,
        type: str = "bytes",
        initial: object = None,
        capacity: int | None = None,
        persistent: bool = False,
    ) -> Snapshot:
        coro = self._service.allocate(name, type=type, initial=initial, capacity=capacity, persistent=persistent)
        return self._loop.run(coro)

    def deallocate(self, name: str) -> None:
        self._loop.run(self._service.deallocate(name))

    def list(self) -> list[VariableInfo]:
        return self._loop.run(self._service.list())

    def read(self, name: str) -> Snapshot:
        if self._local is not None:
            return self._local.read(name)
        return self._loop.run(self._service.read(name))

    def write(self, name: str, value: object) -> int:
        if self._local is not None:
            return self._local.write(name, value)
        return self._loop.run(self._service.write(name, value))

    def compare_and_set(self, name: str, value: object, expected_version: int) -> int:
        return self._loop.run(self._service.compare_and_set(name, value, expected_version))

    def watch(self, name: str | None = None, *, skip_own_writes: bool = False) -> Watch:
        """Watches one variable (or every variable): an iterator of snapshots, the current value first. See the
        async ``Service.watch`` for ``skip_own_writes``."""
        return Watch(self._service.watch(name, skip_own_writes=skip_own_writes), self._loop)


class Watch:
    """A blocking watch: an iterator of snapshots, the current value first. A context manager that ends it."""

    def __init__(self, watch: AsyncWatch, loop: _Loop) -> None:
        self._watch = watch
        self._loop = loop

    def __iter__(self) -> Iterator[Snapshot]:
        return self

    def __next__(self) -> Snapshot:
        try:
            return self._loop.run(self._watch.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def next(self, timeout: float | None = None) -> Snapshot:
        """The next change, waiting at most ``timeout`` seconds (``CommyTimeoutError`` then; the watch goes on and
        loses nothing). ``StopIteration`` once the watch has ended."""
        self._loop.run(self._watch.start())
        try:
            return self._loop.run(self._next(timeout))
        except StopAsyncIteration:
            raise StopIteration from None

    async def _next(self, timeout: float | None) -> Snapshot:
        # Cancelling the wait is safe: a change is taken from the queue only when it is returned.
        try:
            return await asyncio.wait_for(self._watch.__anext__(), timeout)
        except TimeoutError:
            raise CommyTimeoutError(f"no change within {timeout:.3g} s") from None

    def close(self) -> None:
        """Ends the watch."""
        try:
            self._loop.run(self._watch.aclose())
        except ConnectionLostError:
            pass

    def __enter__(self) -> Watch:
        self._loop.run(self._watch.start())
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(url: str | Sequence[str], **options: Any) -> Client:
    """Connects like :func:`commy.connect` (same arguments) and returns a blocking :class:`Client`."""
    loop = _Loop()

    async def make() -> _client.Client:
        return await _client.connect(url, **options)

    try:
        client = loop.run(make())
    except BaseException:
        loop.stop()
        raise
    return Client(client, loop)

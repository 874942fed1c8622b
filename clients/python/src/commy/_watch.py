"""``Watch``: an async iterator over the changes of one variable, or of every variable of a service.

It yields the current value first (of each variable, for a whole service), then every change, coalesced for a slow
reader but always ending at the latest version. It goes on across reconnects, yielding the value a variable reached
while the link was down. It ends when closed (``aclose``, leaving ``async with``, or being dropped), and ends with an
exception when the server ends the subscription or the service or variable is gone after a reconnect.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from ._connection import ALL_VARIABLES, Connection, Key
from ._queue import ChangeQueue
from ._values import Snapshot

if TYPE_CHECKING:
    from ._service import Service


def _drop(conn: Connection, key: Key, queue: ChangeQueue) -> None:
    """Unregisters a watch that was garbage-collected: from whatever thread collected it, on the loop's thread."""
    try:
        conn.loop.call_soon_threadsafe(conn.unregister, key, queue)
    except RuntimeError:
        pass  # the loop is closed, and the connection with it


class Watch:
    def __init__(self, service: Service, variable: str | None, skip_own_writes: bool = False) -> None:
        if skip_own_writes and service._local is not None:
            raise ValueError(
                "skip_own_writes is supported on the remote transport only: on the local one this client's writes "
                "go straight into the mapping, which the Python client cannot yet tell from other processes' writes"
            )
        self._service = service
        self._conn = service._conn
        self.variable = variable
        self._key: Key = (service.id, variable or ALL_VARIABLES)
        self._queue = ChangeQueue(variable, skip_own_writes)
        self._started = False
        self._finalizer: weakref.finalize[..., Watch] | None = None

    async def start(self) -> None:
        """Subscribes and queues the current value(s). Iterating starts it by itself."""
        if self._started:
            return
        self._started = True
        conn = self._conn
        conn.check_usable()
        # Registered before subscribing, so that a push right after the reply finds its queue.
        conn.register(self._key, self._queue)
        self._finalizer = weakref.finalize(self, _drop, conn, self._key, self._queue)
        try:
            # On the local transport too: it checks the right to read, and the server's pushes, deduplicated
            # against the mapping's, carry the watch across a reconnect and tell it when the subscription ends.
            await conn.request("Subscribe", conn.subscribe_fields(self._key))
            local = self._service._local
            if local is not None:
                # Changes straight from the mapping's change signal: no server hop.
                local.follow(self._queue, conn.loop)
            if self.variable is not None:
                self._queue.push(await self._service.read(self.variable))
            else:
                for info in await self._service.list():
                    self._queue.push(await self._service.read(info.name))
        except BaseException:
            await self.aclose()
            raise

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> Snapshot:
        await self.start()
        return await self._queue.get()

    async def aclose(self) -> None:
        """Ends the watch; the last watch of a subscription unsubscribes."""
        if self._finalizer is not None and self._finalizer.alive:
            self._finalizer.detach()
            self._conn.unregister(self._key, self._queue)
        self._queue.close()

    async def __aenter__(self) -> Watch:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        what = self.variable if self.variable is not None else "every variable"
        return f"<commy.Watch of {what} in service {self._service.name!r}>"

"""The unread changes of one watch, coalesced per variable.

A change that arrives while an older one of the same variable is still unread replaces it in place, so a slow reader
skips intermediate versions of a burst but always gets the latest one, and the queue never holds more than one
change per variable. It lives on the client's event loop: every method is called from that loop's thread.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from ._errors import CommyError
from ._values import Snapshot


class ChangeQueue:
    def __init__(self, variable: str | None, skip_own_writes: bool = False) -> None:
        #: The one variable watched, or ``None`` for every variable of the service.
        self.variable = variable
        #: The watch asked not to get its client's own writes (``Subscribe`` with ``skip_own_writes``).
        self.skip_own_writes = skip_own_writes
        self._unread: OrderedDict[str, Snapshot] = OrderedDict()
        #: The last change accepted per variable.
        self._last: dict[str, tuple[int, bytes]] = {}
        self._closed = False
        self._error: CommyError | None = None
        self._ready = asyncio.Event()

    def wants(self, variable: str) -> bool:
        return self.variable is None or self.variable == variable

    def push(self, change: Snapshot, *, catch_up: bool = False) -> None:
        """Queues a change unless it is older than the last one accepted: an older version is dropped, even one read
        after a reconnect from a server behind the one the client left (a watch never goes back), and so is the same
        version again, unless ``catch_up`` (the value read after a reconnect) brings other content (another
        server's)."""
        if self._closed or not self.wants(change.variable):
            return
        last = self._last.get(change.variable)
        if last is not None:
            if change.version < last[0] or last == (change.version, change.data):
                return
            if change.version == last[0] and not catch_up:
                return
        self._last[change.variable] = (change.version, change.data)
        self._unread[change.variable] = change
        self._ready.set()

    def last_version(self, variable: str) -> int | None:
        last = self._last.get(variable)
        return None if last is None else last[0]

    def close(self, error: CommyError | None = None) -> None:
        """Ends the queue once its unread changes are read; with ``error``, the reader gets it after them."""
        if not self._closed:
            self._closed = True
            self._error = error
        self._ready.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def get(self) -> Snapshot:
        """The next change; ``StopAsyncIteration`` once closed and drained, or the error it was closed with."""
        while True:
            if self._unread:
                _, change = self._unread.popitem(last=False)
                return change
            if self._closed:
                error, self._error = self._error, None
                if error is not None:
                    raise error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()

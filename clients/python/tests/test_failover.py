"""Failover between live servers: a client given several URLs moves to the next when its server dies (SIGKILL),
authenticates and subscribes its watches again there, and a watch never goes back to an older version.

The two ``commy serve`` processes share nothing but the tenant's set-up (the same HS256 key, service and variable),
as two independent deployments would; where they stand for a cluster, the tests write the same values on both, so
that they hold the same versions."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Server, free_port, hs256, run

import commy
from commy._queue import ChangeQueue
from commy._servers import server_urls


@dataclass
class Pair:
    first: Server
    second: Server
    tenant: str
    token: Callable[[], str]

    def connect(self, urls: str | list[str], **options: Any) -> Any:
        """A client of the tenant given ``urls``, on the remote transport, reconnecting fast."""
        options.setdefault("backoff", (0.02, 0.2))
        return commy.connect(urls, tenant=self.tenant, get_token=self.token, transport="remote", **options)


@pytest.fixture
def pair(binary: str) -> Iterator[Pair]:
    """Two servers, each with the tenant, its HS256 key, and service ``shared`` with the u64 ``n``."""
    first, second = Server(binary), Server(binary)
    try:
        first.start()
        second.start()
        tenant = f"failover{secrets.token_hex(4)}"
        secret = secrets.token_hex(32)
        for server in (first, second):
            _, key = server.tenant_key(tenant=tenant)
            with commy.sync.connect(server.url, tenant=tenant, api_key=key, transport="remote") as admin:
                admin.set_jwt_key(tenant, "HS256", secret)
                admin.create_service("shared").allocate("n", type="u64")

        def token() -> str:
            claims = {"sub": "py", "tenant": tenant, "exp": int(time.time()) + 600, "permissions": ["read", "write"]}
            return hs256(secret.encode(), claims)

        yield Pair(first, second, tenant, token)
    finally:
        first.remove()
        second.remove()


@asynccontextmanager
async def shared_on(pair: Pair, url: str) -> AsyncIterator[commy.Service]:
    """Service ``shared`` through a client of the server at ``url`` alone."""
    async with pair.connect(url) as client:
        yield await client.get_service("shared")


async def write_all(svc: commy.Service, values: list[int]) -> int:
    """Writes ``values`` in turn; returns the last version."""
    version = 0
    for value in values:
        version = await svc.write("n", value)
    return version


async def until(what: str, condition: Callable[[], bool], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


async def kill(server: Server) -> None:
    await asyncio.to_thread(server.stop, signal.SIGKILL)


class Collected:
    """The changes a watch delivered, gathered by a task; ``error`` is what ended it, if anything did."""

    def __init__(self, watch: commy.Watch) -> None:
        self.changes: list[commy.Snapshot] = []
        self.error: BaseException | None = None
        self.task = asyncio.create_task(self._collect(watch))

    @classmethod
    async def started(cls, watch: commy.Watch) -> Collected:
        """Collects from ``watch`` once it is subscribed."""
        await watch.start()
        return cls(watch)

    async def _collect(self, watch: commy.Watch) -> None:
        try:
            async for change in watch:
                self.changes.append(change)
        except commy.CommyError as err:
            self.error = err

    @property
    def last(self) -> commy.Snapshot | None:
        return self.changes[-1] if self.changes else None


@run
async def test_the_client_moves_to_the_next_server_and_its_watch_goes_on(pair: Pair) -> None:
    moves: list[commy.Reconnect] = []
    async with pair.connect([pair.first.url, pair.second.url], on_reconnect=moves.append) as client:
        assert client.url.startswith(pair.first.url), "the first URL that answers"
        assert len(client.urls) == 2
        svc = await client.get_service("shared")
        seen = await Collected.started(svc.watch("n"))
        # The same writes on both, as a cluster would replicate them: equal versions and values.
        ahead = await write_all(svc, [1, 2])
        async with shared_on(pair, pair.second.url) as theirs:
            assert await write_all(theirs, [1, 2]) == ahead
            await until("the change on the first server", lambda: seen.last is not None and seen.last.version == ahead)
            before_the_move = len(seen.changes)

            await kill(pair.first)
            await until("the reconnect callback", lambda: len(moves) == 1)
            assert moves[0].url.startswith(pair.second.url), moves[0]
            assert moves[0].previous_url.startswith(pair.first.url), moves[0]
            assert client.url.startswith(pair.second.url)
            # A write by another client of the second server reaches the watch: it was subscribed again there.
            version = await theirs.write("n", 41)
            assert version == ahead + 1
            await until("the change on the second server", lambda: seen.last is not None and seen.last.value == 41)
            # The client's own requests go to the second server too.
            await svc.write("n", 42)
            assert (await theirs.read("n")).value == 42
            await until("its own write", lambda: seen.last is not None and seen.last.value == 42)
        assert [c.value for c in seen.changes[before_the_move:]] == [41, 42], (
            "the current value not again after the move"
        )
        versions = [c.version for c in seen.changes]
        assert versions == sorted(set(versions)), f"versions only go up, each once: {versions}"
        seen.task.cancel()


@run
async def test_a_watch_never_goes_back_when_the_next_server_is_behind(pair: Pair) -> None:
    urls = f"{pair.first.url}, {pair.second.url}"  # the comma-separated form
    async with pair.connect(urls) as client:
        svc = await client.get_service("shared")
        seen = await Collected.started(svc.watch("n"))
        ahead = await write_all(svc, [1, 2, 3])
        await until("the last change on the first server", lambda: seen.last is not None and seen.last.version == ahead)
        async with shared_on(pair, pair.second.url) as theirs:
            await write_all(theirs, [100])  # the second server is behind: a lower version

            await kill(pair.first)
            await until("the client on the second server", lambda: client.url.startswith(pair.second.url))
            # Writes on the second server up to the version already delivered are older news; the next is delivered.
            version = 0
            while version <= ahead:
                version = await write_all(theirs, [200 + version])
            await until("the newer change", lambda: seen.last is not None and seen.last.version == version)
        versions = [c.version for c in seen.changes]
        assert versions == sorted(set(versions)), f"versions only go up, each once: {versions}"
        assert 100 not in [c.value for c in seen.changes], "the behind server's older value is not delivered"
        seen.task.cancel()


@run
async def test_an_unreachable_first_url_is_skipped_and_every_url_is_named_when_all_are_down(pair: Pair) -> None:
    nobody = f"ws://127.0.0.1:{free_port()}"
    async with pair.connect([nobody, pair.second.url]) as client:
        assert client.url.startswith(pair.second.url)
        assert (await (await client.get_service("shared")).read("n")).value == 0

    await asyncio.gather(kill(pair.first), kill(pair.second))
    with pytest.raises(commy.ConnectionLostError, match="no server answered") as raised:
        await pair.connect(f"{pair.first.url},{pair.second.url}")
    for server in (pair.first, pair.second):
        assert f"127.0.0.1:{server.port}/ws" in raised.value.message


@run
async def test_after_max_rounds_the_client_gives_up_naming_every_url(pair: Pair) -> None:
    urls = [pair.first.url, pair.second.url]
    async with pair.connect(urls, backoff=(0.02, 0.05), max_rounds=2, connect_timeout=2) as client:
        svc = await client.get_service("shared")
        seen = await Collected.started(svc.watch("n"))
        await until("the current value", lambda: seen.last is not None)

        await asyncio.gather(kill(pair.first), kill(pair.second))
        await asyncio.wait_for(seen.task, 20)
        assert isinstance(seen.error, commy.ConnectionLostError), seen.error
        message = seen.error.message
        assert "each tried 2 times" in message, message
        for server in (pair.first, pair.second):
            assert f"127.0.0.1:{server.port}/ws" in message, message
        with pytest.raises(commy.ConnectionLostError, match="no server answered"):
            await svc.read("n")
    with pytest.raises(commy.InvalidRequestError, match="max_rounds"):
        await commy.connect(pair.second.url, max_rounds=0)


def test_several_urls_as_a_list_a_comma_separated_string_or_both() -> None:
    both = ["ws://a:1/ws", "ws://b:2/ws"]
    assert server_urls("ws://a:1, ws://b:2") == both
    assert server_urls(["ws://a:1", "http://b:2,"]) == both
    with pytest.raises(commy.InvalidRequestError, match="no server URL given"):
        server_urls(" , ")
    with pytest.raises(commy.InvalidRequestError, match="bad server URL 'ftp://b'"):
        server_urls("ws://a:1,ftp://b")


def test_a_watch_queue_never_goes_back() -> None:
    queue = ChangeQueue("n")
    queue.push(commy.Snapshot("n", 5, b"five", 5))
    queue.push(commy.Snapshot("n", 4, b"four", 4), catch_up=True)  # from a server behind: dropped
    queue.push(commy.Snapshot("n", 5, b"FIVE", 5))  # the same version again: dropped
    assert queue.last_version("n") == 5
    queue.push(commy.Snapshot("n", 5, b"other", 5), catch_up=True)  # another server's value at that version
    assert queue._unread["n"].data == b"other"

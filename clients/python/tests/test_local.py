"""The local path: service files mapped by the commy-local extension. Coherence with remote clients, the choice of
transport, read-only mappings, and fork."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from typing import Any

import pytest
from conftest import Server, has_extension, run

import commy
import commy.sync
from commy import _client, _connection

pytestmark = pytest.mark.skipif(
    not has_extension() and not os.environ.get("COMMY_REQUIRE_LOCAL"),
    reason="the commy-local extension is not installed",
)


@run
async def test_a_local_writer_reaches_a_remote_watcher_and_back(shared_server: Server) -> None:
    tenant, key = shared_server.tenant_key()
    async with (
        commy.connect(shared_server.url, tenant=tenant, api_key=key) as local,
        commy.connect(shared_server.url, tenant=tenant, api_key=key, transport="remote", encoding="msgpack") as remote,
    ):
        assert (local.transport, remote.transport) == ("local", "remote"), "auto picks local on loopback"
        mine = await local.create_service("plant")
        await mine.allocate("rpm", type="u64")
        theirs = await remote.get_service("plant")
        assert (mine.transport, theirs.transport) == ("local", "remote")
        async with theirs.watch("rpm") as watch:
            assert (await anext(watch)).value == 0
            last = 0
            for n in range(1, 101):
                last = await mine.write("rpm", n)  # into the mapping: no round trip
            change = await anext(watch)
            while change.version < last:
                change = await anext(watch)
            assert (change.value, change.version) == (100, last), "the last local write reaches the remote watcher"
        # And a remote write lands in the same file the local client reads.
        version = await theirs.write("rpm", 7)
        assert (await mine.read("rpm")).version == version
        assert (await mine.read("rpm")).value == 7


@run
async def test_the_transport_is_chosen_as_the_rust_sdk_does(
    shared_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, key = shared_server.tenant_key()
    async with commy.connect(shared_server.url, tenant=tenant, api_key=key, transport="remote") as remote:
        assert remote.transport == "remote"
        assert (await remote.create_service("s")).transport == "remote"
    # Without the extension, auto stays remote and a forced local transport says what to install.
    monkeypatch.setattr(_client, "extension", lambda: None)
    async with commy.connect(shared_server.url, tenant=tenant, api_key=key) as auto:
        assert auto.transport == "remote"
    with pytest.raises(commy.UnsupportedError, match="commy-local"):
        await commy.connect(shared_server.url, tenant=tenant, api_key=key, transport="local")


@run
async def test_a_read_only_mapping_refuses_writes(shared_server: Server) -> None:
    tenant, key = shared_server.tenant_key()
    _, read_key = shared_server.tenant_key(["read"], tenant=tenant)
    async with (
        commy.connect(shared_server.url, tenant=tenant, api_key=key) as writer,
        commy.connect(shared_server.url, tenant=tenant, api_key=read_key, transport="local") as reader,
    ):
        svc = await writer.create_service("ro")
        await svc.allocate("flag", type="bool")
        ro = await reader.get_service("ro")
        with pytest.raises(commy.PermissionDeniedError, match="read-only"):
            await ro.write("flag", True)
        await svc.write("flag", True)
        assert (await ro.read("flag")).value is True


def _child_writes(svc: commy.sync.Service, value: int, results: multiprocessing.Queue[object]) -> None:
    """In a forked child: write through the inherited mapping, and try the parent's connection."""
    try:
        version = svc.write("n", value)
        try:
            svc.list()
            connection = "usable"
        except commy.ConnectionLostError as err:
            connection = err.message
        results.put((version, svc.read("n").value, connection))
    except BaseException as err:
        results.put(repr(err))


def test_a_mapping_survives_fork(shared_server: Server) -> None:
    tenant, key = shared_server.tenant_key()
    with commy.sync.connect(shared_server.url, tenant=tenant, api_key=key, transport="local") as client:
        svc = client.create_service("forked")
        svc.allocate("n", type="u64")
        before = svc.write("n", 1)
        fork = multiprocessing.get_context("fork")
        results: multiprocessing.Queue[object] = fork.Queue()
        children = [fork.Process(target=_child_writes, args=(svc, 10 + i, results)) for i in range(3)]
        for child in children:
            child.start()
        reports = [results.get(timeout=60) for _ in children]
        for child in children:
            child.join(60)
            assert child.exitcode == 0
        for report in reports:
            assert isinstance(report, tuple), report
            version, value, connection = report
            assert version > before and value >= 10
            assert "forked child" in connection, "the parent's connection is refused clearly in a child"
        final = svc.read("n")
        assert final.value in {10, 11, 12} and final.version == before + 3
        # The parent's own client still works.
        assert svc.write("n", 99) == before + 4
        assert client.get_service("forked").read("n").value == 99


@run
async def test_a_local_watch_survives_a_restart(server: Server) -> None:
    tenant, key = server.tenant_key()
    async with commy.connect(server.url, tenant=tenant, api_key=key, transport="local") as client:
        svc = await client.create_service("durable")
        await svc.allocate("n", type="u64", persistent=True)
        watch = svc.watch("n")
        assert (await anext(watch)).value == 0
        await asyncio.to_thread(server.restart)
        async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote") as other:
            version = await (await other.get_service("durable")).write("n", 5)
        change = await anext(watch)
        while change.version < version:
            change = await anext(watch)
        assert change.value == 5
        assert (await svc.read("n")).value == 5, "the mapping still shows the file the server serves"


@run
async def test_a_local_watch_follows_the_mapping_itself(shared_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the server's pushes cut off, a local watch still sees every write, through the file's change signal."""
    tenant, key = shared_server.tenant_key()
    original = _connection.Connection._route

    def no_pushes(self: _connection.Connection, envelope: Any) -> None:
        if envelope.type != "VariableChanged":
            original(self, envelope)

    monkeypatch.setattr(_connection.Connection, "_route", no_pushes)
    async with (
        commy.connect(shared_server.url, tenant=tenant, api_key=key, transport="local") as watcher,
        commy.connect(shared_server.url, tenant=tenant, api_key=key, transport="remote") as writer,
    ):
        svc = await writer.create_service("signal")
        await svc.allocate("n", type="u64")
        mapped = await watcher.get_service("signal")
        async with mapped.watch("n") as watch:
            assert (await anext(watch)).value == 0
            last = 0
            for n in range(1, 51):
                last = await svc.write("n", n)
            change = await asyncio.wait_for(anext(watch), 30)
            while change.version < last:
                change = await asyncio.wait_for(anext(watch), 30)
            assert change.value == 50

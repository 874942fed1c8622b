"""Watches that skip their own writes (``watch(name, skip_own_writes=True)``, ``Subscribe`` with
``skip_own_writes``) against a real server: the client's own writes are not yielded, another connection's are; the
local transport refuses the option with a clear error."""

from __future__ import annotations

import asyncio
import os

import pytest
from conftest import Server, has_extension, run

import commy

#: How long a watch is given to yield a change that must not come.
QUIET = 0.3

REMOTE = [pytest.param("json", id="json"), pytest.param("msgpack", id="msgpack")]


async def connect(server: Server, tenant: str, key: str, encoding: commy.Encoding) -> commy.Client:
    return await commy.connect(server.url, tenant=tenant, api_key=key, transport="remote", encoding=encoding)


async def quiet(watch: commy.Watch, what: str) -> None:
    """Nothing within ``QUIET`` seconds (a change that came later would still be caught by the next expected one)."""
    try:
        change = await asyncio.wait_for(anext(watch), QUIET)
    except TimeoutError:
        return
    raise AssertionError(f"{what}: the watch yielded {change}")


@pytest.mark.parametrize("encoding", REMOTE)
@run
async def test_a_watch_skips_its_clients_own_writes(shared_server: Server, encoding: commy.Encoding) -> None:
    tenant, key = shared_server.tenant_key(None)
    async with (
        await connect(shared_server, tenant, key, encoding) as me,
        await connect(shared_server, tenant, key, encoding) as other,
    ):
        svc = await me.create_service("shared")
        await svc.allocate("n", type="u64", initial=0)
        theirs = await other.get_service("shared")
        async with svc.watch("n", skip_own_writes=True) as watch:
            assert (await anext(watch)).value == 0, "the current value comes first"
            await svc.write("n", 1)
            await svc.write("n", 3)
            await quiet(watch, "after only its own writes")
            await theirs.write("n", 4)
            assert (await anext(watch)).value == 4, "the other client's write"
            await svc.write("n", 5)
            await quiet(watch, "after its own write")
            await theirs.write("n", 6)
            assert (await anext(watch)).value == 6
        # Without the option, its own writes arrive as before (a watch of the whole service: a new subscription).
        async with svc.watch() as plain:
            assert (await anext(plain)).value == 6
            await svc.write("n", 7)
            assert (await anext(plain)).value == 7


@pytest.mark.skipif(
    not has_extension() and not os.environ.get("COMMY_REQUIRE_LOCAL"),
    reason="the commy-local extension is not installed",
)
@run
async def test_the_local_transport_refuses_the_option(shared_server: Server) -> None:
    tenant, key = shared_server.tenant_key(None)
    async with await commy.connect(shared_server.url, tenant=tenant, api_key=key, transport="local") as me:
        svc = await me.create_service("mine")
        with pytest.raises(ValueError, match="remote transport only"):
            svc.watch(skip_own_writes=True)

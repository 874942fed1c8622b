"""A server restart and a server death: the client reconnects by itself (to another server of its list if need be),
authenticates again, and its watches go on, catching up with what changed while it was away."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time

import pytest
from conftest import Server, hs256, run

import commy


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
@run
async def test_watch_survives_a_restart(server: Server, encoding: commy.Encoding) -> None:
    tenant, key = server.tenant_key()
    client = await commy.connect(
        server.url,
        tenant=tenant,
        api_key=key,
        transport="remote",
        encoding=encoding,
    )
    svc = await client.create_service("durable")
    await svc.allocate("n", type="u64", initial=0, persistent=True)
    watch = svc.watch("n")
    assert (await anext(watch)).value == 0
    version = await svc.write("n", 1)
    first = await anext(watch)
    assert (first.version, first.value) == (version, 1)

    await asyncio.to_thread(server.stop)
    # While the client is away, another client writes as soon as the server is back: the watch must catch up.
    await asyncio.to_thread(server.start)
    async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote") as other:
        other_svc = await other.get_service("durable")
        assert (await other_svc.read("n")).value == 1, "persistent"
        await other_svc.write("n", 2)
    change = await anext(watch)
    while change.value != 2:
        change = await anext(watch)

    # The client's own requests work again, on the renewed session, and the watch goes on.
    version = await svc.write("n", 3)
    change = await anext(watch)
    assert (change.value, change.version) == (3, version)
    await client.close()
    with pytest.raises(StopAsyncIteration):
        await anext(watch)


@run
async def test_requests_wait_for_the_reconnect(server: Server) -> None:
    tenant, key = server.tenant_key()
    async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote") as client:
        svc = await client.create_service("s")
        await svc.allocate("n", type="u64", persistent=True)
        server.stop(signal.SIGKILL)
        restart = asyncio.create_task(asyncio.to_thread(server.start))
        # A write in flight when the link died fails (it may or may not have been carried out); once the client
        # knows the link is down, requests wait for the reconnect (within the request timeout) and go through.
        try:
            version = await svc.write("n", 5)
        except commy.ConnectionLostError as lost:
            assert "may or may not" in lost.message or "not sent" in lost.message
            version = await svc.write("n", 5)
        await restart
        assert (await svc.read("n")).value == 5
        assert (await svc.read("n")).version == version


@run
async def test_no_server_answers(binary: str) -> None:
    nobody = Server(binary)
    with pytest.raises(commy.ConnectionLostError, match="cannot connect"):
        await commy.connect([nobody.url, nobody.url.replace("ws:", "http:")], connect_timeout=2)
    with pytest.raises(commy.InvalidRequestError, match="bad server URL"):
        await commy.connect("ftp://127.0.0.1:1")


@run
async def test_a_watch_catches_up_with_a_change_made_while_it_was_away(server: Server) -> None:
    tenant, key = server.tenant_key()
    # A long first backoff: the other client's write lands before this client is back, so no push can carry it;
    # only the catch-up read after the reconnect can.
    async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote", backoff=(2.0, 2.0)) as client:
        svc = await client.create_service("away")
        await svc.allocate("n", type="u64", persistent=True)
        await svc.allocate("m", type="string", capacity=16, persistent=True)
        one, every = svc.watch("n"), svc.watch()
        assert (await anext(one)).value == 0
        assert {(await anext(every)).variable for _ in range(2)} == {"n", "m"}
        await asyncio.to_thread(server.restart)
        async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote") as other:
            theirs = await other.get_service("away")
            written = await theirs.write("n", 41)
            await theirs.write("m", "moved")
        change = await asyncio.wait_for(anext(one), 30)
        assert (change.value, change.version) == (41, written)
        seen: dict[str, object] = {}
        while len(seen) < 2:
            change = await asyncio.wait_for(anext(every), 30)
            seen[change.variable] = change.value
        assert seen == {"n": 41, "m": "moved"}


@run
async def test_wss_with_a_ca_file(binary: str) -> None:
    server = Server(binary, tls=True)
    try:
        await asyncio.to_thread(server.start)
        tenant, key = server.tenant_key()
        ca = server.data_dir / "cert.pem"
        async with commy.connect(server.url, tenant=tenant, api_key=key, ca_cert=ca) as client:
            svc = await client.create_service("tls")
            await svc.allocate("n", type="u64", initial=3)
            assert (await svc.read("n")).value == 3
        # Without the CA, the self-signed certificate is refused with a message that says so.
        with pytest.raises(commy.ConnectionLostError, match="certificate not trusted"):
            await commy.connect(server.url, tenant=tenant, api_key=key)
    finally:
        server.remove()


@run
async def test_a_token_source_is_asked_again_after_a_restart(server: Server) -> None:
    tenant, key = server.tenant_key()
    secret = secrets.token_bytes(32)
    async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote") as admin:
        await admin.set_jwt_key(tenant, "HS256", secret.hex())
        await (await admin.create_service("jwt")).allocate("n", type="u64", persistent=True)
    issued: list[str] = []

    async def fresh_token() -> str:
        claims = {"sub": "py", "tenant": tenant, "exp": int(time.time()) + 60, "permissions": ["read", "write"]}
        issued.append(hs256(secret.hex().encode(), claims))
        return issued[-1]

    async with commy.connect(server.url, tenant=tenant, get_token=fresh_token, transport="remote") as client:
        svc = await client.get_service("jwt")
        await svc.write("n", 1)
        assert len(issued) == 1
        await asyncio.to_thread(server.restart)
        version = None
        for _ in range(200):
            try:
                version = await svc.write("n", 2)
                break
            except commy.ConnectionLostError:
                await asyncio.sleep(0.05)
        assert version is not None and (await svc.read("n")).value == 2
        assert len(issued) >= 2, "the token source is asked again to authenticate after the reconnect"
    with pytest.raises(commy.UnauthorizedError):
        await commy.connect(server.url, tenant=tenant, token=issued[0][:-4] + "AAAA", transport="remote")


@run
async def test_a_backend_mints_tokens_that_carry_no_more_than_its_rights(server: Server) -> None:
    tenant, key = server.tenant_key(["read", "write", "create_service"])
    async with commy.connect(server.url, tenant=tenant, api_key=key, transport="remote") as backend:
        await (await backend.create_service("minted")).allocate("n", type="u64", initial=7)
        minted: list[commy.Token] = []

        async def page_token() -> str:
            minted.append(await backend.create_token(60, ["read"]))
            return minted[-1].token

        async with commy.connect(server.url, tenant=tenant, get_token=page_token, transport="remote") as page:
            svc = await page.get_service("minted")
            assert (await svc.read("n")).value == 7
            with pytest.raises(commy.PermissionDeniedError):
                await svc.write("n", 8)
        assert minted[0].expires_at_ms > time.time() * 1000
        with pytest.raises(commy.PermissionDeniedError):
            await backend.create_token(60, ["admin"])

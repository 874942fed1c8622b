"""The Rust SDK's conformance cases (crates/commy-client/tests/sdk/conformance.rs), run over every transport and
encoding against a real server: the results must be the same on all of them."""

from __future__ import annotations

import math

import pytest
from conftest import MODES, Mode, Server, run

import commy

READ_ONLY = ["read"]


async def connect(server: Server, mode: Mode, permissions: list[str] | None = None) -> commy.Client:
    transport, encoding = mode
    tenant, key = server.tenant_key(permissions)
    client = await commy.connect(
        server.url,
        tenant=tenant,
        api_key=key,
        transport=transport,
        encoding=encoding,
    )
    assert client.transport == transport
    return client


async def until_version(watch: commy.Watch, variable: str, version: int) -> list[commy.Change]:
    """Changes of ``variable`` until one reaches ``version``."""
    seen = []
    async for change in watch:
        if change.variable != variable:
            continue
        seen.append(change)
        if change.version >= version:
            return seen
    raise AssertionError(f"the watch ended before {variable!r} reached version {version}: saw {seen}")


@pytest.mark.parametrize("mode", MODES)
@run
async def test_services_crud(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        created = await client.create_service("weather")
        assert (created.name, created.tenant, created.transport) == ("weather", client.tenant, mode[0])
        got = await client.get_service("weather")
        assert got.id == created.id
        assert await client.list_services() == ["weather"]
        await client.delete_service("weather")
        with pytest.raises(commy.NotFoundError):
            await client.get_service("weather")
        assert await client.list_services() == []


@pytest.mark.parametrize("mode", MODES)
@run
async def test_variables_crud(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        svc = await client.create_service("plant")
        first = await svc.allocate("count", type="u64", initial=5, persistent=True)
        assert (first.value, first.data) == (5, (5).to_bytes(8, "little"))
        await svc.allocate("raw", initial=b"\x01\x02\x03", capacity=16)
        listed = {v.name: v for v in await svc.list()}
        count, raw = listed["count"], listed["raw"]
        assert (count.type, count.capacity, count.len, count.persistent) == ("u64", 8, 8, True)
        assert (raw.type, raw.capacity, raw.len) == ("bytes", 16, 3)

        before = await svc.read("count")
        version = await svc.write("count", 6)
        assert version > before.version
        after = await svc.read("count")
        assert (after.value, after.version) == (6, version)

        await svc.deallocate("raw")
        with pytest.raises(commy.NotFoundError):
            await svc.read("raw")
        with pytest.raises(commy.NotFoundError):
            await svc.write("raw", b"\x01")
        # A freed name can be allocated again, with another type.
        await svc.allocate("raw", type="string", initial="again")
        assert (await svc.read("raw")).value == "again"


@pytest.mark.parametrize("mode", MODES)
@run
async def test_every_value_type(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        svc = await client.create_service("typed")
        await svc.allocate("u", type="u64")
        await svc.allocate("i", type="i64")
        await svc.allocate("f", type="f64")
        await svc.allocate("b", type="bool")
        await svc.allocate("s", type="string", capacity=32)
        reading = {"station": "north", "celsius": 21.5, "tags": ["roof"]}
        first = await svc.allocate("j", type="json", initial=reading)
        assert first.value == reading
        await svc.allocate("raw", capacity=8)
        assert [(await svc.read(n)).value for n in "uifbs"] == [0, 0, 0.0, False, ""]
        assert (await svc.read("raw")).value == b""

        cases: list[tuple[str, object]] = [
            ("u", 2**64 - 1),
            ("i", -42),
            ("f", 0.1 + 0.2),
            ("b", True),
            ("s", "héllo"),
            ("j", {**reading, "celsius": -3.25}),
            ("raw", b"\x09\x08\x07"),
        ]
        for name, value in cases:
            version = await svc.write(name, value)
            snap = await svc.read(name)
            assert (snap.variable, snap.value, snap.version) == (name, value, version)
        assert (await svc.read("s")).data == "héllo".encode()
        # A whole float is a whole number; JSON has no NaN, which goes as the f64's 8 bytes.
        await svc.write("u", 7.0)
        assert (await svc.read("u")).value == 7
        await svc.write("f", math.nan)
        assert math.isnan((await svc.read("f")).value)
        await svc.write("f", -math.inf)
        assert (await svc.read("f")).value == -math.inf


@pytest.mark.parametrize("mode", MODES)
@run
async def test_watch_a_variable_to_its_last_version(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        svc = await client.create_service("burst")
        await svc.allocate("n", type="u64", initial=0)
        await svc.allocate("other", type="u64")
        async with svc.watch("n") as watch:
            current = await anext(watch)
            assert (current.variable, current.value) == ("n", 0), "the current value comes first"
            last = 0
            for n in range(1, 201):
                last = await svc.write("n", n)
                await svc.write("other", n)
            seen = await until_version(watch, "n", last)
        values = [c.value for c in seen]
        assert values[-1] == 200, "the last write always arrives"
        assert values == sorted(set(values)), f"in order: {values}"
        assert all(c.variable == "n" for c in seen)


@pytest.mark.parametrize("mode", MODES)
@run
async def test_watch_a_whole_service(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        svc = await client.create_service("all")
        await svc.allocate("a", type="string", capacity=16, initial="zero")
        await svc.allocate("b", type="f64")
        watch = svc.watch()
        first: dict[str, object] = {}
        while len(first) < 2:
            change = await anext(watch)
            first[change.variable] = change.value
        assert first == {"a": "zero", "b": 0.0}, "the current values come first"
        va = await svc.write("a", "first")
        vb = await svc.write("b", 2.5)
        latest: dict[str, commy.Change] = {}
        while any(n not in latest or latest[n].version < v for n, v in (("a", va), ("b", vb))):
            change = await anext(watch)
            latest[change.variable] = change
        assert (latest["a"].value, latest["b"].value) == ("first", 2.5)
        # A variable allocated after the watch started is watched too.
        await svc.allocate("c", type="bool")
        vc = await svc.write("c", True)
        seen = await until_version(watch, "c", vc)
        assert seen[-1].value is True
        await watch.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(watch)


@pytest.mark.parametrize("mode", MODES)
@run
async def test_errors_match_the_protocol_codes(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        with pytest.raises(commy.NotFoundError) as missing:
            await client.get_service("nope")
        assert missing.value.code == "NOT_FOUND"
        svc = await client.create_service("errs")
        with pytest.raises(commy.AlreadyExistsError):
            await client.create_service("errs")
        with pytest.raises(commy.InvalidRequestError):
            await client.create_service("../bad")
        await svc.allocate("n", type="u64", initial=1)
        await svc.allocate("s", type="string", capacity=4, initial="x")
        with pytest.raises(commy.AlreadyExistsError):
            await svc.allocate("n", type="u64")
        with pytest.raises(commy.NotFoundError):
            await svc.read("missing")
        with pytest.raises(commy.NotFoundError):
            await svc.write("missing", 1)
        with pytest.raises(commy.NotFoundError):
            await anext(svc.watch("missing"))
        # A value of the wrong kind or size, or over capacity, changes nothing.
        before = await svc.read("n")
        for name, bad in [("n", "text"), ("n", -1), ("n", 1.5), ("n", True), ("n", b"\x01\x02"), ("s", "too long")]:
            with pytest.raises(commy.InvalidRequestError):
                await svc.write(name, bad)
        assert await svc.read("n") == before
        with pytest.raises(commy.InvalidRequestError):
            await svc.allocate("t", type="u128")
        # Every error is a CommyError, and the connection stays usable after one.
        with pytest.raises(commy.CommyError):
            await svc.read("missing")
        assert (await svc.read("n")).value == 1


@pytest.mark.parametrize("mode", MODES)
@run
async def test_a_read_only_key_is_denied_writes(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as admin:
        svc = await admin.create_service("guarded")
        await svc.allocate("n", type="u64", initial=7)
        key = shared_server.tenant_key(READ_ONLY, tenant=admin.tenant)[1]
        async with commy.connect(
            shared_server.url,
            tenant=admin.tenant,
            api_key=key,
            transport=mode[0],
            encoding=mode[1],
        ) as reader:
            ro = await reader.get_service("guarded")
            assert (await ro.read("n")).value == 7
            with pytest.raises(commy.PermissionDeniedError):
                await ro.write("n", 8)
            with pytest.raises(commy.PermissionDeniedError):
                await ro.allocate("m", type="u64")
            with pytest.raises(commy.PermissionDeniedError):
                await ro.deallocate("n")
            with pytest.raises(commy.PermissionDeniedError):
                await reader.create_service("mine")
            with pytest.raises(commy.PermissionDeniedError):
                await reader.delete_service("guarded")
            assert (await ro.read("n")).value == 7
            # Reading includes watching, and the watch sees the writer's changes.
            async with ro.watch("n") as watch:
                assert (await anext(watch)).value == 7
                version = await svc.write("n", 9)
                assert (await until_version(watch, "n", version))[-1].value == 9


@pytest.mark.parametrize("mode", MODES)
@run
async def test_a_bad_key_is_unauthorized(shared_server: Server, mode: Mode) -> None:
    tenant, _ = shared_server.tenant_key()
    with pytest.raises(commy.UnauthorizedError) as refused:
        await commy.connect(shared_server.url, tenant=tenant, api_key="not-a-key", transport=mode[0])
    assert refused.value.code == "UNAUTHORIZED"
    async with commy.connect(shared_server.url, encoding=mode[1]) as stranger:
        with pytest.raises(commy.InvalidRequestError, match="no tenant"):
            await stranger.get_service("anything")
        with pytest.raises(commy.UnauthorizedError):
            await stranger.create_tenant("mine")


@pytest.mark.parametrize("mode", MODES)
@run
async def test_compare_and_set(shared_server: Server, mode: Mode) -> None:
    async with await connect(shared_server, mode) as client:
        svc = await client.create_service("cas")
        first = await svc.allocate("n", type="u64", initial=1)
        version = await svc.compare_and_set("n", 2, first.version)
        assert (await svc.read("n")).value == 2
        assert version == first.version + 1
        # A stale version: the server refuses (CONFLICT, with the current version) and changes nothing.
        with pytest.raises(commy.ConflictError) as stale:
            await svc.compare_and_set("n", 3, first.version)
        assert stale.value.current_version == version
        assert (await svc.read("n")).value == 2

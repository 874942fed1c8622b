"""The blocking client: the same calls without ``await``, on one private event-loop thread per client."""

from __future__ import annotations

import threading

import pytest
from conftest import MODES, Mode, Server

import commy
import commy.sync


@pytest.mark.parametrize("mode", MODES)
def test_blocking_crud_and_watch(shared_server: Server, mode: Mode) -> None:
    tenant, key = shared_server.tenant_key()
    threads_before = threading.active_count()
    with commy.sync.connect(
        shared_server.url, tenant=tenant, api_key=key, transport=mode[0], encoding=mode[1]
    ) as client:
        assert threading.active_count() == threads_before + 1, "one private event-loop thread"
        svc = client.create_service("weather")
        assert svc.transport == mode[0]
        assert client.get_service("weather").id == svc.id
        svc.allocate("temperature", type="f64", initial=20.0)
        version = svc.write("temperature", 21.5)
        snap = svc.read("temperature")
        assert (snap.value, snap.version) == (21.5, version)
        with pytest.raises(commy.NotFoundError):
            svc.read("missing")
        with svc.watch("temperature") as watch:
            assert next(watch).value == 21.5, "the current value first"
            with pytest.raises(commy.CommyTimeoutError):
                watch.next(timeout=0.2)
            # A timed-out wait loses nothing: the next change still arrives.
            written = svc.write("temperature", 22.0)
            change = watch.next(timeout=30)
            assert (change.value, change.version) == (22.0, written)
        # Other threads may call the same client at once.
        results: list[int] = []

        def writer(n: int) -> None:
            results.append(svc.write("temperature", float(n)))

        workers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(set(results)) == 8
        assert svc.read("temperature").version == max(results)
        client.delete_service("weather")
        assert client.list_services() == []
    assert threading.active_count() == threads_before, "the thread stops with the client"


def test_blocking_watch_as_a_plain_iterator(shared_server: Server) -> None:
    tenant, key = shared_server.tenant_key()
    with commy.sync.connect(shared_server.url, tenant=tenant, api_key=key, transport="remote") as client:
        svc = client.create_service("counter")
        svc.allocate("n", type="u64")
        done = threading.Event()

        def count() -> None:
            for n in range(1, 51):
                svc.write("n", n)
            done.set()

        threading.Thread(target=count).start()
        seen = []
        for change in svc.watch("n"):
            seen.append(change.value)
            if change.value == 50:
                break
        assert done.wait(30)
        assert seen[0] == 0 or seen[0] >= 1
        assert seen == sorted(seen) and seen[-1] == 50
    # A closed client's calls fail clearly.
    with pytest.raises(commy.ConnectionLostError):
        client.heartbeat()

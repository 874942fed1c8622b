"""Reads and writes of a u64, each beside its baseline measured in the same run (docs/performance.md).

- Local (the commy-local extension): the public call (``svc.read``/``svc.write`` of the blocking client), the
  extension's own call, and the baseline: 8 bytes read from an ``mmap`` of the same service file with
  ``struct.unpack_from`` (and written with ``struct.pack_into`` into an ``mmap`` of a scratch file, since the
  service file's bytes belong to Commy's layout).
- Remote: a read and a write round trip of the asyncio client over WebSocket (JSON and MessagePack), and the
  baseline: a raw ``websockets`` client echoing a message of the same size off a raw ``websockets`` server in
  another process, over loopback.

Run: ``python bench/bench_u64.py`` (starts its own ``commy serve``; ``COMMY_BIN`` names the binary, else
``cargo build -p commy`` is run). ``--quick`` runs fewer iterations, for CI's smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mmap
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import websockets

import commy
import commy.sync
from commy import _local

REPO = Path(__file__).resolve().parents[3]


def binary() -> str:
    if os.environ.get("COMMY_BIN"):
        return os.environ["COMMY_BIN"]
    subprocess.run(["cargo", "build", "-q", "-p", "commy"], cwd=REPO, check=True)
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO, capture_output=True)
    return str(Path(json.loads(meta.stdout)["target_directory"]) / "debug" / "commy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not become healthy")


#: Rounds per table: every row is timed once per round, in turn, so that all rows see the same load; each row's
#: figure is its best round.
ROUNDS = 5


def table(n: int, rows: dict[str, Callable[[int], object]]) -> dict[str, float]:
    """Nanoseconds per call of each row's body, rows interleaved round by round."""
    best = dict.fromkeys(rows, float("inf"))
    for _ in range(ROUNDS):
        for what, body in rows.items():
            start = time.perf_counter_ns()
            for i in range(n):
                body(i)
            best[what] = min(best[what], (time.perf_counter_ns() - start) / n)
    return best


async def table_async(n: int, rows: dict[str, Callable[[int], Awaitable[object]]]) -> dict[str, float]:
    best = dict.fromkeys(rows, float("inf"))
    for _ in range(ROUNDS):
        for what, body in rows.items():
            start = time.perf_counter_ns()
            for i in range(n):
                await body(i)
            best[what] = min(best[what], (time.perf_counter_ns() - start) / n)
    return best


def report(figures: dict[str, float], baselines: dict[str, str]) -> None:
    """Prints each figure, and for each row named in ``baselines`` its ratio to that baseline row."""
    for what, ns in figures.items():
        base = baselines.get(what)
        ratio = f"{ns / figures[base]:>6.1f}x {base}" if base else "   (baseline)"
        print(f"  {what:<48} {ns / 1000:>9.3f} µs   {ratio}", flush=True)


def local(url: str, tenant: str, key: str, n: int) -> None:
    print(f"local (commy-local extension, blocking client), u64, {n} ops per round, best of {ROUNDS} interleaved:")
    with commy.sync.connect(url, tenant=tenant, api_key=key, transport="local") as client:
        svc = client.create_service("bench-local")
        svc.allocate("n", type="u64")
        assert svc.transport == "local"
        mapping = svc._local._mapping  # type: ignore[union-attr]
        fd, _ = _local.fetch_service_fd(
            client._client._local_socket,  # type: ignore[arg-type]
            {"tenant_id": tenant, "client_version": "bench", "method": "api_key", "key": key},
            tenant,
            "bench-local",
            10,
        )
        with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as file_map, tempfile.TemporaryFile() as scratch:
            os.close(fd)
            scratch.truncate(4096)
            with mmap.mmap(scratch.fileno(), 4096) as scratch_map:
                unpack, pack, raw = (
                    struct.Struct("<Q").unpack_from,
                    struct.Struct("<Q").pack_into,
                    struct.Struct("<Q").pack,
                )
                figures = table(
                    n,
                    {
                        "mmap + struct.unpack_from": lambda i: unpack(file_map, 64),
                        "svc.read('n').value": lambda i: svc.read("n").value,
                        "Mapping.read('n')": lambda i: mapping.read("n"),
                        "mmap + struct.pack_into": lambda i: pack(scratch_map, 64, i),
                        "svc.write('n', i)": lambda i: svc.write("n", i),
                        "Mapping.write('n', bytes, tag)": lambda i: mapping.write("n", raw(i), 1),
                    },
                )
        read_base, write_base = "mmap + struct.unpack_from", "mmap + struct.pack_into"
        report(
            figures,
            {
                "svc.read('n').value": read_base,
                "Mapping.read('n')": read_base,
                "svc.write('n', i)": write_base,
                "Mapping.write('n', bytes, tag)": write_base,
            },
        )


def echo_server(port: int) -> None:
    """A raw websockets echo server (the remote baseline), run in its own process."""

    async def echo(ws: websockets.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def serve() -> None:
        async with websockets.serve(echo, "127.0.0.1", port, compression=None):
            await asyncio.Future()

    asyncio.run(serve())


async def remote(url: str, tenant: str, key: str, n: int) -> None:
    print(f"remote (asyncio client, WebSocket over loopback), u64, {n} round trips per round, best of {ROUNDS}:")
    port = free_port()
    echo = subprocess.Popen([sys.executable, __file__, "--echo-server", str(port)])
    try:
        for _ in range(600):
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
                    break
            except OSError:
                await asyncio.sleep(0.05)
        # A message of the size of a ReadVariable request (JSON), echoed.
        request = {"type": "ReadVariable", "data": {"service_id": "svc_0001", "variable_name": "n"}, "id": 1}
        message = json.dumps(request)
        async with (
            websockets.connect(f"ws://127.0.0.1:{port}", compression=None) as ws,
            commy.connect(url, tenant=tenant, api_key=key, transport="remote", encoding="json") as as_json,
            commy.connect(url, tenant=tenant, api_key=key, transport="remote", encoding="msgpack") as as_msgpack,
        ):

            async def round_trip(i: int) -> None:
                await ws.send(message)
                await ws.recv()

            svc = await as_json.create_service("bench-remote")
            await svc.allocate("n", type="u64")
            packed = await as_msgpack.get_service("bench-remote")
            figures = await table_async(
                n,
                {
                    "raw websockets echo": round_trip,
                    "await svc.read('n') (json)": lambda i: svc.read("n"),
                    "await svc.write('n', i) (json)": lambda i: svc.write("n", i),
                    "await svc.read('n') (msgpack)": lambda i: packed.read("n"),
                    "await svc.write('n', i) (msgpack)": lambda i: packed.write("n", i),
                },
            )
        report(figures, {what: "raw websockets echo" for what in figures if what != "raw websockets echo"})
    finally:
        echo.terminate()
        echo.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="few iterations (a smoke test)")
    p.add_argument("--echo-server", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.echo_server:
        echo_server(args.echo_server)
        return
    local_n, remote_n = (1_000, 100) if args.quick else (100_000, 2_000)
    data_dir = tempfile.mkdtemp(prefix="commy-bench-")
    port, admin_key = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [binary(), "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}"],
        env=dict(os.environ, COMMY_ADMIN_KEY=admin_key, RUST_LOG="warn"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(port, server)
        url = f"ws://127.0.0.1:{port}"
        with commy.sync.connect(url, api_key=admin_key) as admin:
            admin.create_tenant("bench")
            key = admin.create_api_key("bench", "bench", ["admin", "create_service", "read", "write"]).key
        if _local.extension() is not None:
            local(url, "bench", key, local_n)
        else:
            print("local: skipped, the commy-local extension is not installed")
        asyncio.run(remote(url, "bench", key, remote_n))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

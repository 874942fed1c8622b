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
from collections.abc import Callable
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


def per_op(n: int, body: Callable[[int], object]) -> float:
    """Nanoseconds per call of ``body`` (best of three rounds of ``n``)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for i in range(n):
            body(i)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


async def per_op_async(n: int, body: Callable[[int], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for i in range(n):
            await body(i)  # type: ignore[misc]
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def row(what: str, ns: float, baseline: float) -> None:
    print(f"  {what:<58} {ns / 1000:>9.3f} µs   {ns / baseline:>6.1f}x baseline", flush=True)


def local(url: str, tenant: str, key: str, n: int) -> None:
    print(f"local (commy-local extension), u64, {n} ops per round, best of 3:")
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
                unpack, pack = struct.Struct("<Q").unpack_from, struct.Struct("<Q").pack_into
                read_base = per_op(n, lambda i: unpack(file_map, 64))
                write_base = per_op(n, lambda i: pack(scratch_map, 64, i))
        print(f"  {'baseline read: struct.unpack_from on an mmap of the file':<58} {read_base / 1000:>9.3f} µs")
        row("svc.read('n').value (commy.sync, local)", per_op(n, lambda i: svc.read("n").value), read_base)
        row("extension Mapping.read('n') (bytes, version, type)", per_op(n, lambda i: mapping.read("n")), read_base)
        print(f"  {'baseline write: struct.pack_into on an mmap':<58} {write_base / 1000:>9.3f} µs")
        row("svc.write('n', i) (commy.sync, local)", per_op(n, lambda i: svc.write("n", i)), write_base)
        raw = struct.Struct("<Q").pack
        row("extension Mapping.write('n', bytes, tag)", per_op(n, lambda i: mapping.write("n", raw(i), 1)), write_base)


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
    print(f"remote (WebSocket over loopback), u64, {n} round trips per round, best of 3:")
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
        message = json.dumps(
            {"type": "ReadVariable", "data": {"service_id": "svc_0001", "variable_name": "n"}, "id": 1}
        )
        async with websockets.connect(f"ws://127.0.0.1:{port}", compression=None) as ws:

            async def round_trip(i: int) -> None:
                await ws.send(message)
                await ws.recv()

            base = await per_op_async(n, round_trip)
        print(f"  {'baseline: raw websockets echo round trip':<58} {base / 1000:>9.3f} µs")
        for encoding in ("json", "msgpack"):
            await remote_calls(url, tenant, key, encoding, n, base)
    finally:
        echo.terminate()
        echo.wait()


async def remote_calls(url: str, tenant: str, key: str, encoding: commy.Encoding, n: int, base: float) -> None:
    async with commy.connect(url, tenant=tenant, api_key=key, transport="remote", encoding=encoding) as client:
        try:
            svc = await client.create_service("bench-remote")
            await svc.allocate("n", type="u64")
        except commy.AlreadyExistsError:
            svc = await client.get_service("bench-remote")
        row(f"await svc.read('n') ({encoding})", await per_op_async(n, lambda i: svc.read("n")), base)
        row(f"await svc.write('n', i) ({encoding})", await per_op_async(n, lambda i: svc.write("n", i)), base)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="few iterations (a smoke test)")
    p.add_argument("--echo-server", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.echo_server:
        echo_server(args.echo_server)
        return
    local_n, remote_n = (2_000, 200) if args.quick else (200_000, 5_000)
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

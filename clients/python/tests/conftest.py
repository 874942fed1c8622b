"""Fixtures: a real ``commy serve`` process (built by cargo), and tenants with keys in it.

The binary is ``$COMMY_BIN`` if set, else ``cargo build -p commy`` is run once and its output used. Each server gets
a free port, a fresh temporary data directory and a known admin key (``COMMY_ADMIN_KEY``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

import commy
import commy.sync

REPO = Path(__file__).resolve().parents[3]
#: No test may run longer than this; a hang fails instead of blocking CI.
CASE_TIMEOUT = 90.0


def commy_binary() -> str:
    given = os.environ.get("COMMY_BIN")
    if given:
        return given
    subprocess.run(["cargo", "build", "-q", "-p", "commy"], cwd=REPO, check=True)
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO, check=True, capture_output=True
    )
    target = json.loads(meta.stdout)["target_directory"]
    return str(Path(target) / "debug" / "commy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A ``commy serve`` process over its own data directory."""

    def __init__(self, binary: str, tls: bool = False) -> None:
        self.binary = binary
        #: Serve wss:// with a self-signed certificate (DATA_DIR/cert.pem).
        self.tls = tls
        self.data_dir = Path(tempfile.mkdtemp(prefix="commy-py-"))
        self.port = free_port()
        self.admin_key = "commy_admin_" + secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.data_dir.parent / (self.data_dir.name + ".log")

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(os.environ, COMMY_ADMIN_KEY=self.admin_key, RUST_LOG="warn")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "serve", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"]
                + (["--tls-self-signed"] if self.tls else []),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"commy serve exited with {self.process.returncode}: {self.log.read_text()}")
            try:
                scheme, context = ("https", ssl._create_unverified_context()) if self.tls else ("http", None)
                with urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/healthz", timeout=1, context=context):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"commy serve did not become healthy: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log.unlink(missing_ok=True)

    def tenant_key(self, permissions: list[str] | None = None, tenant: str | None = None) -> tuple[str, str]:
        """A new tenant (or ``tenant``) and a key in it; every right unless ``permissions`` says otherwise."""
        tenant = tenant or f"t{next(_tenants)}"
        rights = permissions or ["admin", "create_service", "delete_service", "read", "write"]
        ca = str(self.data_dir / "cert.pem") if self.tls else None
        with commy.sync.connect(self.url, api_key=self.admin_key, transport="remote", ca_cert=ca) as admin:
            try:
                admin.create_tenant(tenant)
            except commy.AlreadyExistsError:
                pass
            return tenant, admin.create_api_key(tenant, "test", rights).key


_tenants = itertools.count(1)


@pytest.fixture(scope="session")
def binary() -> str:
    return commy_binary()


@pytest.fixture(scope="session")
def shared_server(binary: str) -> Iterator[Server]:
    """One server for the tests that need only a fresh tenant."""
    server = Server(binary)
    server.start()
    yield server
    server.remove()


@pytest.fixture
def server(binary: str) -> Iterator[Server]:
    """A server of this test's own, for tests that stop or restart it."""
    server = Server(binary)
    server.start()
    yield server
    server.remove()


def has_extension() -> bool:
    try:
        import commy_local  # noqa: F401
    except ImportError:
        return False
    return True


#: A transport and an encoding.
Mode = tuple[commy.Transport, commy.Encoding]

#: The ways to reach a server that every conformance case runs over.
MODES = [
    pytest.param(("remote", "json"), id="remote-json"),
    pytest.param(("remote", "msgpack"), id="remote-msgpack"),
    pytest.param(
        ("local", "json"),
        id="local",
        marks=pytest.mark.skipif(
            not has_extension() and not os.environ.get("COMMY_REQUIRE_LOCAL"),
            reason="the commy-local extension is not installed",
        ),
    ),
]


def run(case: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Runs an async test case on a fresh event loop, failing it after ``CASE_TIMEOUT``."""

    @functools.wraps(case)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(case(*args, **kwargs), CASE_TIMEOUT))

    return wrapper


def hs256(secret: bytes, claims: dict[str, object]) -> str:
    """A JWT signed with HS256 (the server verifies it; the client treats it as opaque)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"

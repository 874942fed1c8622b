"""The examples as a smoke test, bounded by their flags: the sensor writes over the local transport (where the
extension is installed) while the dashboard watches over the remote one and the alert fires, all against one
server.

The alert also guards a clean exit: it leaves while the sensor's writes keep waking its local watch thread, which
aborted the process ("FATAL: exception not rethrown") before the client joined those threads at exit."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from conftest import Server, has_extension

import commy.sync

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class Example:
    """An example running in its own process, its output lines collected as they come."""

    def __init__(self, server: Server, tenant: str, key: str, name: str, *args: str) -> None:
        env = dict(os.environ, COMMY_URL=server.url, COMMY_TENANT=tenant, COMMY_KEY=key)
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str:
        line = self.lines.get(timeout=60)
        assert line is not None, f"{self.name} ended early with {self.process.wait()}"
        return line

    def finish(self) -> list[str]:
        """Waits for the example to end by itself; its remaining lines."""
        code = self.process.wait(60)
        assert code == 0, f"{self.name} failed with {code}: {self.process.stderr.read() if self.process.stderr else ''}"
        rest = []
        while (line := self.lines.get(timeout=10)) is not None:
            rest.append(line)
        return rest


def test_sensor_dashboard_and_alerts_run_together(shared_server: Server) -> None:
    tenant, key = shared_server.tenant_key()
    # The service and variables the sensor would create, so that the watchers can start first.
    with commy.sync.connect(shared_server.url, tenant=tenant, api_key=key, transport="remote") as client:
        weather = client.create_service("weather")
        weather.allocate("temperature", type="f64", initial=20.0)
        weather.allocate("humidity", type="f64", initial=50.0)
        weather.allocate("reading", type="json", capacity=512)
    dashboard = Example(shared_server, tenant, key, "dashboard", "--until-sequence", "5")
    alerts = Example(shared_server, tenant, key, "alerts", "--threshold", "21", "--count", "1")
    try:
        assert "over the remote transport" in dashboard.next_line()
        assert alerts.next_line().startswith("alerts watching")
        transport = "local" if has_extension() else "remote"
        sensor = Example(
            shared_server, tenant, key, "weather_sensor", "--count", "5", "--interval", "0.02", "--transport", transport
        )
        assert f"over the {transport} transport" in sensor.next_line()
        readings = sensor.finish()
        assert len(readings) == 5 and readings[-1].startswith("reading 5:")
        board = dashboard.finish()
        assert any('"sequence": 5' in line or "'sequence': 5" in line for line in board), board
        fired = alerts.finish()
        assert fired[-1].startswith("ALERT: temperature"), fired
    finally:
        for example in (dashboard, alerts):
            if example.process.poll() is None:
                example.process.kill()

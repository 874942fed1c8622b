// The examples as a smoke test, bounded by their flags: the sensor writes while the terminal dashboard and the
// alerts watch, all against one real server.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { connect } from "../src/index.js";
import { ALL, CommyServer, until } from "./support/server.js";

const examples = fileURLToPath(new URL("../examples/", import.meta.url));

let server: CommyServer;
let key: string;

before(async () => {
  server = await CommyServer.start();
  key = await server.tenantKey("acme", ALL);
});
after(async () => server.dispose());

/** Runs an example; `output` grows as it prints, `exited` resolves with its exit code (it is killed after 60 s). */
function run(name: string, args: string[]) {
  const child = spawn(process.execPath, [`${examples}${name}/main.js`, ...args], {
    env: { ...process.env, COMMY_URL: server.url, COMMY_TENANT: "acme", COMMY_KEY: key },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result = { output: "", errors: "", exited: new Promise<number | null>((done) => child.once("exit", done)) };
  child.stdout.on("data", (chunk: Buffer) => (result.output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (result.errors += chunk.toString()));
  const limit = setTimeout(() => child.kill("SIGKILL"), 60_000);
  void result.exited.then(() => clearTimeout(limit));
  return result;
}

test("the weather sensor, the dashboard and the alerts run together", async () => {
  // The service and variables the sensor would create, so that the watchers can start first.
  const client = await connect(server.url, { tenant: "acme", apiKey: key });
  const weather = await client.createService("weather");
  await weather.allocate("temperature", { type: "f64", initial: 20 });
  await weather.allocate("humidity", { type: "f64", initial: 50 });
  await weather.allocate("reading", { type: "json", capacity: 512 });
  await client.close();

  const dashboard = run("dashboard", ["--until-sequence", "5"]);
  const alerts = run("alerts", ["--threshold", "21", "--count", "1"]);
  await until("the watchers to start", () => alerts.output.includes("alerts watching") && dashboard.errors.includes("watching"));
  const sensor = run("weather-sensor", ["--count", "5", "--interval-ms", "20"]);
  assert.equal(await sensor.exited, 0, sensor.errors);
  assert.equal(await dashboard.exited, 0, dashboard.errors);
  assert.equal(await alerts.exited, 0, alerts.errors);

  const written = sensor.output.trim().split("\n");
  assert.equal(written.length, 6, sensor.output);
  // The sensor's last temperature is the last the dashboard shows for it: nothing is lost at the end.
  const lastWritten = /temperature (\S+) /.exec(written.at(-1) ?? "")?.[1];
  const shown = dashboard.output.trim().split("\n").filter((line) => line.startsWith("temperature = "));
  assert.equal(/^temperature = (\S+) /.exec(shown.at(-1) ?? "")?.[1], lastWritten, dashboard.output);
  assert.match(alerts.output, /^ALERT: temperature \S+ °C is above 21 °C/m);
});

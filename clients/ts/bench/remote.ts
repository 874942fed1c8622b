// Node benchmark: the client's remote read round trip and write -> push latency against a real `commy serve`,
// beside a raw `ws` echo round trip (a Node echo server in its own process) measured in the same run.
// Run with `npm run bench` (COMMY_BIN should be a release build). Figures go in docs/performance.md.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { connect } from "../src/index.js";
import type { Change, Encoding } from "../src/index.js";
import { ALL, COMMY_BIN, CommyServer } from "../test/support/server.js";

const ROUNDS = Number(process.env.ROUNDS ?? 2000);
const WARMUP = 200;

interface Summary {
  median: number;
  p99: number;
}

function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { median: at(0.5), p99: at(0.99) };
}

type Round = () => Promise<void>;

/** Runs every case's rounds in slices that alternate between the cases, so that load from outside hits all alike. */
async function measureAll(cases: Map<string, Round>, rounds: number, slices = 10): Promise<Map<string, Summary>> {
  const samples = new Map<string, number[]>();
  for (const [name, once] of cases) {
    for (let i = 0; i < WARMUP; i++) await once();
    samples.set(name, []);
  }
  for (let slice = 0; slice < slices; slice++) {
    for (const [name, once] of cases) {
      const into = samples.get(name) ?? [];
      for (let i = 0; i < rounds / slices; i++) {
        const start = process.hrtime.bigint();
        await once();
        into.push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
  }
  return new Map([...samples].map(([name, list]) => [name, summarize(list)]));
}

/** A raw `ws` echo round trip of a message the size of a ReadVariable request, to a Node echo server process. */
async function echoRound(): Promise<{ once: Round; close: () => void }> {
  const script = fileURLToPath(new URL("echo-server.js", import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => child.stdout.once("data", (b: Buffer) => resolve(b.toString().trim())));
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve) => socket.once("open", resolve));
  const message = JSON.stringify({ type: "ReadVariable", data: { service_id: "svc_0001", variable_name: "n" }, id: 1 });
  const once = () =>
    new Promise<void>((resolve) => {
      socket.once("message", () => resolve());
      socket.send(message);
    });
  return {
    once,
    close: () => {
      socket.close();
      child.kill();
    },
  };
}

/** The client's read round trip, and write -> the watcher's listener has the new version. */
async function commyRounds(server: CommyServer, key: string, encoding: Encoding) {
  const options = { tenant: "bench", apiKey: key, encoding };
  const writer = await connect(server.url, options);
  const watcher = await connect(server.url, options);
  const service = await writer.createService(`bench-${encoding}`);
  await service.allocate("n", { type: "u64" });
  const read: Round = async () => {
    await service.read("n");
  };
  const watched = await watcher.getService(service.name);
  // The push may come before the write's own reply: the watcher keeps the latest version it saw.
  let latest = 0;
  let waiting: { version: number; done: () => void } | undefined;
  const stop = watched.watch("n", (change: Change) => {
    latest = change.version;
    if (waiting && latest >= waiting.version) waiting.done();
  });
  await stop.ready;
  let n = 0;
  const push: Round = async () => {
    const version = await service.write("n", ++n);
    if (latest >= version) return;
    await new Promise<void>((done) => (waiting = { version, done }));
    waiting = undefined;
  };
  const close = async () => {
    stop();
    await writer.close();
    await watcher.close();
  };
  return { read, push, close };
}

const us = (x: number) => `${x.toFixed(0)} µs`;
const server = await CommyServer.start();
try {
  const key = await server.tenantKey("bench", ALL);
  const echo = await echoRound();
  const json = await commyRounds(server, key, "json");
  const msgpack = await commyRounds(server, key, "msgpack");
  const cases = new Map<string, Round>([
    ["raw ws echo round trip (baseline)", echo.once],
    ["client read round trip, json", json.read],
    ["client write -> push, json", json.push],
    ["client read round trip, msgpack", msgpack.read],
    ["client write -> push, msgpack", msgpack.push],
  ]);
  console.log(`commy: ${COMMY_BIN}; ${ROUNDS} sequential rounds per case after ${WARMUP} of warm-up, in 10 alternating slices`);
  const results = await measureAll(cases, ROUNDS);
  const baseline = results.get("raw ws echo round trip (baseline)")?.median ?? NaN;
  for (const [name, summary] of results) {
    const ratio = (summary.median / baseline).toFixed(2);
    console.log(`${name.padEnd(36)} p50 ${us(summary.median).padStart(8)}  p99 ${us(summary.p99).padStart(8)}  ${ratio}x echo`);
  }
  echo.close();
  await json.close();
  await msgpack.close();
} finally {
  await server.dispose();
}

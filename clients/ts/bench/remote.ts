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

async function measure(rounds: number, once: () => Promise<void>): Promise<Summary> {
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await once();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return summarize(samples);
}

async function echoBaseline(): Promise<Summary> {
  const script = fileURLToPath(new URL("echo-server.js", import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => child.stdout.once("data", (b: Buffer) => resolve(b.toString().trim())));
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve) => socket.once("open", resolve));
  const message = JSON.stringify({ type: "ReadVariable", data: { service_id: "svc_0001", variable_name: "n" }, id: 1 });
  const result = await measure(ROUNDS, () => {
    return new Promise<void>((resolve) => {
      socket.once("message", () => resolve());
      socket.send(message);
    });
  });
  socket.close();
  child.kill();
  return result;
}

async function commy(server: CommyServer, key: string, encoding: Encoding) {
  const options = { tenant: "bench", apiKey: key, encoding };
  const writer = await connect(server.url, options);
  const watcher = await connect(server.url, options);
  const service = await writer.createService(`bench-${encoding}`);
  await service.allocate("n", { type: "u64" });
  const read = await measure(ROUNDS, async () => {
    await service.read("n");
  });

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
  const push = await measure(ROUNDS, async () => {
    const version = await service.write("n", ++n);
    if (latest >= version) return;
    await new Promise<void>((done) => (waiting = { version, done }));
    waiting = undefined;
  });
  stop();
  await writer.close();
  await watcher.close();
  return { read, push };
}

const us = (x: number) => `${x.toFixed(0)} µs`;
const server = await CommyServer.start();
try {
  const key = await server.tenantKey("bench", ALL);
  console.log(`commy: ${COMMY_BIN}; ${ROUNDS} sequential rounds each after ${WARMUP} of warm-up; median (p99)`);
  const echo = await echoBaseline();
  console.log(`raw ws echo round trip (baseline)      ${us(echo.median)} (${us(echo.p99)})`);
  for (const encoding of ["json", "msgpack"] as const) {
    const { read, push } = await commy(server, key, encoding);
    const ratio = (s: Summary) => `${(s.median / echo.median).toFixed(1)}x echo`;
    console.log(`client read round trip, ${encoding.padEnd(7)}       ${us(read.median)} (${us(read.p99)})  ${ratio(read)}`);
    console.log(`client write -> push, ${encoding.padEnd(7)}         ${us(push.median)} (${us(push.p99)})  ${ratio(push)}`);
  }
} finally {
  await server.dispose();
}

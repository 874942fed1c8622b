// Node benchmark: failover time. A client watching a variable with two server URLs; its server is killed (SIGKILL),
// and the time until the client is open again on the other server, signed in and its watch subscribed again (the
// `reconnect` event), is measured. Beside it, in the same run, the baseline: a fresh client of the live server doing
// the same work from scratch (connect, sign in, look the service up, subscribe, read the current value).
// Run with `npm run bench:failover` (COMMY_BIN should be a release build; ROUNDS=... to change the count).

import { connect } from "../src/index.js";
import type { Client, ReconnectEvent } from "../src/index.js";
import { startPair } from "../test/support/pair.js";
import type { CommyServer } from "../test/support/server.js";

const ROUNDS = Number(process.env.ROUNDS ?? 20);

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const ms = (q: number) => `${at(q).toFixed(2)} ms`;
  return `median ${ms(0.5)}, p90 ${ms(0.9)}, min ${ms(0)} (${samples.length} rounds)`;
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A fresh client of `server`, signed in, its watch of `n` subscribed with the current value delivered. */
async function freshWatch(server: CommyServer, options: Parameters<typeof connect>[1]): Promise<number> {
  const start = process.hrtime.bigint();
  const client = await connect(server.url, options);
  const service = await client.getService("shared");
  const stop = service.watch("n", () => undefined);
  await stop.ready;
  const took = elapsedMs(start);
  stop();
  await client.close();
  return took;
}

async function main(): Promise<void> {
  const { first, second, options } = await startPair();
  const servers = [first, second];
  let client: Client | undefined;
  try {
    client = await connect([first.url, second.url], options);
    const service = await client.getService("shared");
    const stop = service.watch("n", () => undefined);
    await stop.ready;
    const failover: number[] = [];
    const fresh: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const onIndex = client.url.includes(`:${first.port}/`) ? 0 : 1;
      const dying = servers[onIndex] as CommyServer;
      const live = servers[1 - onIndex] as CommyServer;
      fresh.push(await freshWatch(live, options));
      const moved = new Promise<ReconnectEvent>((resolve) => {
        const off = client?.on("reconnect", (event) => {
          off?.();
          resolve(event);
        });
      });
      const start = process.hrtime.bigint();
      await dying.kill();
      const event = await moved;
      failover.push(elapsedMs(start));
      if (!event.url.includes(`:${live.port}/`)) throw new Error(`moved to ${event.url}, not the live server`);
      await dying.restart();
    }
    stop();
    console.log(`failover, SIGKILL -> open on the other server with the watch subscribed: ${summary(failover)}`);
    console.log(`baseline, a fresh client of the live server -> watch subscribed:         ${summary(fresh)}`);
  } finally {
    await client?.close();
    await Promise.all([first.dispose(), second.dispose()]);
  }
}

await main();

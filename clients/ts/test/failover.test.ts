// Failover between live servers: a client given several URLs moves to the next when its server dies (SIGKILL), signs
// in and subscribes its watches again there, and a watch never goes back to an older version. The servers share
// nothing but the tenant's set-up (the same JWT key, service and variable), as two independent deployments would; the
// tests write the same values on both where they stand for a cluster, whose servers hold the same versions.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { CommyError, connect } from "../src/index.js";
import type { Change, ConnectOptions, ReconnectEvent, Service } from "../src/index.js";
import { closeClients, track } from "./support/fixture.js";
import { withPair } from "./support/pair.js";
import { CommyServer, freePort, until } from "./support/server.js";

after(closeClients);

/** `shared` on a client of `server` alone. */
async function sharedOn(server: CommyServer, options: ConnectOptions): Promise<Service> {
  const client = track(await connect(server.url, { ...options, reconnect: false }));
  return client.getService("shared");
}

/** Writes `values` in turn; resolves with the last version. */
async function writeAll(service: Service, values: number[]): Promise<number> {
  let version = 0;
  for (const value of values) version = await service.write("n", value);
  return version;
}

/** Watches `n`, keeping every change delivered. */
function watchN(svc: Service): { seen: Change[]; stop: () => void; ready: Promise<void> } {
  const seen: Change[] = [];
  const stop = svc.watch("n", (change) => seen.push(change));
  return { seen, stop, ready: stop.ready };
}

test("a client moves to the next server when its server is killed, and its watch goes on there", async () => {
  await withPair(async ({ first, second, options }) => {
  const client = track(await connect([first.url, second.url], options));
  const moves: ReconnectEvent[] = [];
  client.on("reconnect", (event) => moves.push(event));
  assert.ok(client.url.includes(`:${first.port}`), client.url);
  assert.equal(client.urls.length, 2);
  const svc = await client.getService("shared");
  const { seen, stop, ready } = watchN(svc);
  await ready;
  // The same writes on both, as a cluster would replicate them: equal versions and values.
  const v2 = await writeAll(svc, [1, 2]);
  const theirs = await sharedOn(second, options);
  assert.equal(await writeAll(theirs, [1, 2]), v2);
  await until("the change on the first server", () => seen.at(-1)?.version === v2 && seen.at(-1)?.value === 2);

  await first.kill();
  await until("the reconnect event", () => moves.length === 1);
  assert.ok(moves[0]?.url.includes(`:${second.port}`), moves[0]?.url);
  assert.ok(moves[0]?.previousUrl.includes(`:${first.port}`), moves[0]?.previousUrl);
  assert.ok(client.url.includes(`:${second.port}`), client.url);
  assert.equal(client.status, "open");
  // A write by another client of the second server reaches the watch: it was subscribed again there.
  const v3 = await theirs.write("n", 41);
  assert.equal(v3, v2 + 1);
  await until("the change on the second server", () => seen.at(-1)?.value === 41 && seen.at(-1)?.version === v3);
  // The client's own requests go to the second server too.
  await svc.write("n", 42);
  assert.equal((await theirs.read("n")).value, 42);
  await until("its own write", () => seen.at(-1)?.value === 42);
  assert.deepEqual(
    seen.map((change) => change.value),
    [0, 1, 2, 41, 42],
    "every value once, the current one after the move not again",
  );
  stop();
  });
});

test("a watch never goes back to an older version when the next server is behind", async () => {
  await withPair(async ({ first, second, options }) => {
  const client = track(await connect(`${first.url},${second.url}`, options));
  const svc = await client.getService("shared");
  const { seen, stop, ready } = watchN(svc);
  await ready;
  const ahead = await writeAll(svc, [1, 2, 3]);
  await until("the last change on the first server", () => seen.at(-1)?.version === ahead);
  const theirs = await sharedOn(second, options);
  await writeAll(theirs, [100]); // the second server is behind: a lower version

  await first.kill();
  await until("the client on the second server", () => client.url.includes(`:${second.port}`));
  await until("the client open", () => client.status === "open");
  // Writes on the second server up to the version already delivered are older news; the next one is delivered.
  let version = 0;
  while (version <= ahead) version = await theirs.write("n", 200 + version);
  await until("the newer change", () => seen.at(-1)?.version === version);
  const versions = seen.map((change) => change.version);
  assert.deepEqual(
    versions,
    [...versions].sort((a, b) => a - b),
    "versions only go up",
  );
  assert.equal(new Set(versions).size, versions.length, "no version twice");
  assert.ok(!seen.some((change) => change.value === 100), "the behind server's older value is not delivered");
  stop();
  });
});

test("an unreachable first URL is skipped at start; with every server down the error names them all", async () => {
  await withPair(async ({ first, second, options }) => {
  const nobody = `ws://127.0.0.1:${await freePort()}`;
  const client = track(await connect([nobody, second.url], options));
  assert.ok(client.url.includes(`:${second.port}`), client.url);
  assert.equal((await (await client.getService("shared")).read("n")).value, 0);
  await client.close();

  await Promise.all([first.kill(), second.kill()]);
  await assert.rejects(connect(`${first.url}, ${second.url}`, options), (error: unknown) => {
    assert.ok(error instanceof CommyError);
    assert.equal(error.code, "CONNECTION_LOST");
    assert.match(error.message, /no server answered/);
    assert.ok(error.message.includes(`127.0.0.1:${first.port}/ws`), error.message);
    assert.ok(error.message.includes(`127.0.0.1:${second.port}/ws`), error.message);
    return true;
  });
  });
});

test("after maxRounds failed rounds the client closes; calls and watches get the error naming every URL", async () => {
  await withPair(async ({ first, second, options }) => {
  const client = track(
    await connect([first.url, second.url], {
      ...options,
      reconnect: { initialDelayMs: 50, maxDelayMs: 100, maxRounds: 2 },
    }),
  );
  const svc = await client.getService("shared");
  let watchError: CommyError | undefined;
  const stop = svc.watch("n", () => undefined, { onError: (error) => (watchError = error) });
  await stop.ready;
  const errors: CommyError[] = [];
  client.on("error", (error) => errors.push(error));

  await Promise.all([first.kill(), second.kill()]);
  await until("the client closed", () => client.status === "closed");
  const names = (message: string) =>
    message.includes(`127.0.0.1:${first.port}/ws`) && message.includes(`127.0.0.1:${second.port}/ws`);
  assert.ok(watchError && names(watchError.message), watchError?.message);
  assert.match(watchError.message, /each tried 2 times/);
  assert.ok(errors.some((error) => names(error.message)));
  await assert.rejects(svc.read("n"), (error: unknown) => {
    assert.ok(error instanceof CommyError);
    assert.equal(error.code, "CONNECTION_LOST");
    assert.ok(names(error.message), error.message);
    return true;
  });
  });
});

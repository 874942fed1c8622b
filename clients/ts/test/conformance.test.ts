// The Rust SDK's conformance cases (crates/commy-client/tests/sdk/conformance.rs), against a real `commy serve`,
// once per encoding.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CommyError, connect } from "../src/index.js";
import type { Change, Encoding } from "../src/index.js";
import { closeClients, ENCODINGS, fixture, track } from "./support/fixture.js";
import { CommyServer, READ_ONLY, until } from "./support/server.js";

/** Asserts that `promise` rejects with a CommyError of `code`. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CommyError, `expected a CommyError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

for (const encoding of ENCODINGS) {
  describe(`conformance over ${encoding}`, () => {
    let server: CommyServer;
    before(async () => (server = await CommyServer.start()));
    after(async () => {
      await closeClients();
      await server.dispose();
    });

    test("services: create, get, list, delete", async () => {
      const { client, tenant } = await fixture(server, encoding);
      const created = await client.createService("weather");
      assert.equal(created.name, "weather");
      assert.equal(created.tenant, tenant);
      const got = await client.getService("weather");
      assert.equal(got.id, created.id);
      assert.deepEqual(await client.listServices(), ["weather"]);
      await client.deleteService("weather");
      await rejectsWith(client.getService("weather"), "NOT_FOUND");
      assert.deepEqual(await client.listServices(), []);
      await client.close();
    });

    test("variables: allocate, list, read, write, deallocate", async () => {
      const { client } = await fixture(server, encoding);
      const svc = await client.createService("plant");
      const first = await svc.allocate("count", { type: "u64", initial: 5, persistent: true });
      assert.equal(first.value, 5);
      await svc.allocate("raw", { initial: Uint8Array.of(1, 2, 3), capacity: 16 });
      const list = await svc.list();
      const count = list.find((v) => v.name === "count");
      assert.deepEqual(
        [count?.type, count?.capacity, count?.length, count?.persistent],
        ["u64", 8, 8, true],
      );
      const raw = list.find((v) => v.name === "raw");
      assert.deepEqual([raw?.type, raw?.capacity, raw?.length], ["bytes", 16, 3]);

      const before = await svc.read("count");
      const version = await svc.write("count", 6);
      assert.ok(version > before.version);
      const now = await svc.read("count");
      assert.deepEqual([now.value, now.version], [6, version]);

      await svc.deallocate("raw");
      await rejectsWith(svc.read("raw"), "NOT_FOUND");
      await rejectsWith(svc.write("raw", Uint8Array.of(1)), "NOT_FOUND");
      await svc.allocate("raw", { type: "string", initial: "again" });
      assert.equal((await svc.read("raw")).value, "again");
      await client.close();
    });

    test("every value type reads back what was written", async () => {
      const { client } = await fixture(server, encoding);
      const svc = await client.createService("typed");
      await svc.allocate("u", { type: "u64" });
      await svc.allocate("i", { type: "i64" });
      await svc.allocate("f", { type: "f64" });
      await svc.allocate("b", { type: "bool" });
      await svc.allocate("s", { type: "string", capacity: 32 });
      const reading = { station: "north", celsius: 21.5, tags: ["roof"] };
      await svc.allocate("j", { type: "json", initial: reading });
      await svc.allocate("raw", { capacity: 8 });

      const cases: [string, unknown][] = [
        ["u", 7],
        ["u", 2n ** 64n - 1n],
        ["i", -42],
        ["i", -(2n ** 63n)],
        ["f", 0.1 + 0.2],
        ["f", 20],
        ["f", Infinity],
        ["b", true],
        ["s", "héllo"],
        ["j", { ...reading, celsius: -3.25 }],
        ["j", null],
        ["raw", Uint8Array.of(9, 8, 7)],
      ];
      for (const [name, value] of cases) {
        await svc.write(name, value as never);
        assert.deepEqual((await svc.read(name)).value, value, `${name} = ${String(value)}`);
      }
      await svc.write("f", NaN);
      assert.ok(Number.isNaN((await svc.read("f")).value));
      // Another client, which did not allocate them, reads the same values.
      const other = track(await connect(server.url, { tenant: svc.tenant, apiKey: (await fixtureKey(server, svc.tenant)), encoding }));
      const theirs = await other.getService("typed");
      assert.equal((await theirs.read("u")).value, 2n ** 64n - 1n);
      assert.equal((await theirs.read("i")).value, -(2n ** 63n));
      assert.equal((await theirs.read("s")).value, "héllo");
      assert.deepEqual((await theirs.read("raw")).value, Uint8Array.of(9, 8, 7));
      await other.close();
      await client.close();
    });

    test("a watch gets the current value, then changes in order, ending at the last", async () => {
      const { client } = await fixture(server, encoding);
      const svc = await client.createService("burst");
      await svc.allocate("n", { type: "u64" });
      await svc.allocate("other", { type: "u64" });
      const seen: Change[] = [];
      const stop = svc.watch("n", (change) => seen.push(change));
      await stop.ready;
      assert.equal(seen[0]?.value, 0, "the current value comes first");
      let last = 0;
      for (let n = 1; n <= 200; n++) {
        last = await svc.write("n", n);
        await svc.write("other", n);
      }
      await until("the last version", () => seen.at(-1)?.version === last);
      const values = seen.map((c) => c.value as number);
      assert.equal(values.at(-1), 200, "the last write always arrives");
      assert.ok(values.every((v, i) => i === 0 || (values[i - 1] as number) < v), `in order: ${values.join(",")}`);
      assert.ok(seen.every((c) => c.variable === "n"));
      stop();
      await client.close();
    });

    test("a watch of a whole service sees every variable, including new ones", async () => {
      const { client } = await fixture(server, encoding);
      const svc = await client.createService("all");
      await svc.allocate("a", { type: "string", capacity: 16 });
      await svc.allocate("b", { type: "f64" });
      const latest = new Map<string, Change>();
      const stop = svc.watch("*", (change) => latest.set(change.variable, change));
      await stop.ready;
      assert.deepEqual([latest.get("a")?.value, latest.get("b")?.value], ["", 0]);
      const va = await svc.write("a", "first");
      const vb = await svc.write("b", 2.5);
      await until("both changes", () => latest.get("a")?.version === va && latest.get("b")?.version === vb);
      assert.deepEqual([latest.get("a")?.value, latest.get("b")?.value], ["first", 2.5]);
      await svc.allocate("c", { type: "bool" });
      const vc = await svc.write("c", true);
      await until("the new variable", () => latest.get("c")?.version === vc);
      assert.equal(latest.get("c")?.value, true);
      stop();
      await client.close();
    });

    test("errors carry the protocol's codes", async () => {
      const { client } = await fixture(server, encoding);
      await rejectsWith(client.getService("nope"), "NOT_FOUND");
      const svc = await client.createService("errs");
      await rejectsWith(client.createService("errs"), "ALREADY_EXISTS");
      await rejectsWith(client.createService("../bad"), "INVALID_REQUEST");
      await svc.allocate("n", { type: "u64", initial: 1 });
      await svc.allocate("s", { type: "string", initial: "x", capacity: 4 });
      await rejectsWith(svc.allocate("n", { type: "u64" }), "ALREADY_EXISTS");
      await rejectsWith(svc.read("missing"), "NOT_FOUND");
      await rejectsWith(svc.write("missing", 1), "NOT_FOUND");
      const watch = svc.watch("missing", () => assert.fail("nothing to deliver"), { onError: () => undefined });
      await rejectsWith(watch.ready, "NOT_FOUND");
      const before = await svc.read("n");
      await rejectsWith(svc.write("n", "text"), "INVALID_REQUEST");
      await rejectsWith(svc.write("n", -1), "INVALID_REQUEST");
      await rejectsWith(svc.write("n", Uint8Array.of(1, 2)), "INVALID_REQUEST");
      await rejectsWith(svc.write("s", "too long"), "INVALID_REQUEST");
      assert.deepEqual(await svc.read("n"), before, "a refused write changes nothing");
      await client.close();
    });

    test("compare-and-set writes at the expected version and refuses another", async () => {
      const { client } = await fixture(server, encoding);
      const svc = await client.createService("cas");
      await svc.allocate("n", { type: "i64", initial: 1 });
      const { version } = await svc.read("n");
      const next = await svc.compareAndSet("n", version, 2);
      assert.ok(next > version);
      await rejectsWith(svc.compareAndSet("n", version, 3), "CONFLICT");
      assert.equal((await svc.read("n")).value, 2);
      await client.close();
    });

    test("a read-only key reads and watches but may not write", async () => {
      const { client, tenant } = await fixture(server, encoding);
      const svc = await client.createService("guarded");
      await svc.allocate("n", { type: "u64", initial: 7 });
      const key = await server.tenantKey(tenant, READ_ONLY);
      const reader = track(await connect(server.url, { tenant, apiKey: key, encoding }));
      const ro = await reader.getService("guarded");
      assert.equal((await ro.read("n")).value, 7);
      await rejectsWith(ro.write("n", 8), "PERMISSION_DENIED");
      await rejectsWith(ro.allocate("m", { type: "u64" }), "PERMISSION_DENIED");
      await rejectsWith(ro.deallocate("n"), "PERMISSION_DENIED");
      await rejectsWith(reader.createService("mine"), "PERMISSION_DENIED");
      await rejectsWith(reader.deleteService("guarded"), "PERMISSION_DENIED");
      const seen: Change[] = [];
      const stop = ro.watch("n", (change) => seen.push(change));
      await stop.ready;
      const version = await svc.write("n", 9);
      await until("the writer's change", () => seen.at(-1)?.version === version);
      assert.equal(seen.at(-1)?.value, 9);
      await reader.close();
      await client.close();
    });

    test("a bad key is UNAUTHORIZED and connect rejects", async () => {
      const { tenant, client } = await fixture(server, encoding);
      await rejectsWith(connect(server.url, { tenant, apiKey: "not-a-key", encoding }), "UNAUTHORIZED");
      await client.close();
    });

    test("connect skips a server that does not answer", async () => {
      const { tenant, key, client } = await fixture(server, encoding);
      const dead = "ws://127.0.0.1:1";
      const second = track(await connect([dead, server.url], { tenant, apiKey: key, encoding }));
      assert.equal(second.status, "open");
      assert.equal(second.url, `${server.url}/ws`);
      await second.close();
      await client.close();
    });
  });
}

async function fixtureKey(server: CommyServer, tenant: string): Promise<string> {
  return server.tenantKey(tenant, READ_ONLY);
}

export type { Encoding };

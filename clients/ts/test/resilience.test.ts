// What a long-lived client lives through: server restarts, token refresh and expiry, against a real `commy serve`.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { CommyError, connect } from "../src/index.js";
import type { Change, Status } from "../src/index.js";
import { closeClients, ENCODINGS, fixture, freshTenant, track } from "./support/fixture.js";
import { signJwt } from "./support/jwt.js";
import { CommyServer, until } from "./support/server.js";

after(closeClients);

for (const encoding of ENCODINGS) {
  describe(`over ${encoding}`, () => {
    test("a watch survives a server restart and gets the value written while the link was down", async () => {
      const server = await CommyServer.start();
      try {
        // A slow backoff, so that the other client's write lands before the watcher is back.
        const { client, tenant, key } = await fixture(server, encoding, {
          reconnect: { initialDelayMs: 1_500, maxDelayMs: 1_500 },
        });
        const statuses: Status[] = [];
        client.on("status", (status) => statuses.push(status));
        const svc = await client.createService("durable");
        await svc.allocate("n", { type: "u64", persistent: true });
        const seen: Change[] = [];
        const stop = svc.watch("n", (change) => seen.push(change));
        await stop.ready;
        const v1 = await svc.write("n", 1);
        await until("the first change", () => seen.at(-1)?.version === v1);

        await server.restart();

        const other = track(await connect(server.url, { tenant, apiKey: key, encoding }));
        const theirs = await other.getService("durable");
        assert.equal((await theirs.read("n")).value, 1, "persistent");
        await theirs.write("n", 2);
        await until("the value written while the watcher was away", () => seen.at(-1)?.value === 2);
        assert.deepEqual(statuses.slice(0, 2), ["reconnecting", "open"]);
        // The client's own requests work again.
        assert.equal((await svc.read("n")).value, 2);
        const v3 = await theirs.write("n", 3);
        await until("pushes after the reconnect", () => seen.at(-1)?.version === v3);
        assert.equal(seen.at(-1)?.value, 3);
        stop();
        await client.close();
        assert.equal(statuses.at(-1), "closed");
      } finally {
        await closeClients();
        await server.dispose();
      }
    });
  });
}

describe("tokens from getToken", () => {
  test("are fetched on connect, refreshed before expiry and on reconnect; an expired one is refused", async () => {
    const server = await CommyServer.start();
    try {
      const tenant = freshTenant();
      const secret = randomBytes(32).toString("hex");
      const admin = await server.admin();
      await admin.request("CreateTenant", { tenant_id: tenant, tenant_name: tenant });
      await admin.request("SetJwtKey", { tenant_id: tenant, alg: "HS256", key: secret });
      let minted = 0;
      const getToken = () => {
        minted += 1;
        const exp = Math.floor(Date.now() / 1000) + 4;
        const claims = { sub: `page-${minted}`, tenant, exp, permissions: ["read", "write", "create_service"] };
        return signJwt(claims, secret);
      };
      const client = track(await connect(server.url, { tenant, getToken }));
      assert.equal(minted, 1);
      const svc = await client.createService("tokens");
      await svc.allocate("n", { type: "u64", persistent: true });

      await until("a refreshed token", () => minted >= 2);
      await until("the refreshed sign-in", () => client.status === "open");
      await svc.write("n", 5);
      const audit = await admin.request("QueryAudit", { tenant_id: tenant, limit: 1000 });
      const entries = audit.entries as { actor: string; action: string }[];
      assert.ok(
        entries.some((e) => e.actor === "jwt:page-2" && e.action === "auth_success"),
        "the server saw the refreshed token",
      );

      const before = minted;
      await server.restart();
      await until("a token for the new connection", () => minted > before && client.status === "open");
      assert.equal((await svc.read("n")).value, 5);
      admin.close();

      const expired = () =>
        signJwt({ sub: "late", tenant, exp: Math.floor(Date.now() / 1000) - 3600, permissions: ["read"] }, secret);
      await assert.rejects(connect(server.url, { tenant, getToken: expired }), (error: unknown) => {
        assert.ok(error instanceof CommyError);
        assert.equal(error.code, "UNAUTHORIZED");
        return true;
      });
      const failing = () => Promise.reject(new Error("the backend is down"));
      await assert.rejects(connect(server.url, { tenant, getToken: failing }), /getToken failed: the backend is down/);
    } finally {
      await closeClients();
      await server.dispose();
    }
  });
});

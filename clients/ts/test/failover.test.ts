// Failover between two live servers: a client given both URLs moves to the other when its server dies, and its watch
// is subscribed again there. The servers share nothing but the tenant's set-up (the same JWT key, service and
// variable), as two independent deployments would.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import { connect } from "../src/index.js";
import type { Change } from "../src/index.js";
import { closeClients, freshTenant, track } from "./support/fixture.js";
import { signJwt } from "./support/jwt.js";
import { CommyServer, until } from "./support/server.js";

after(closeClients);

/** The tenant, its HS256 key, and service `shared` with the u64 `n`, on `server`. */
async function setUp(server: CommyServer, tenant: string, secret: string): Promise<void> {
  const admin = await server.admin();
  try {
    await admin.request("CreateTenant", { tenant_id: tenant, tenant_name: tenant });
    await admin.request("SetJwtKey", { tenant_id: tenant, alg: "HS256", key: secret });
    const service = await admin.request("CreateService", { tenant_id: tenant, service_name: "shared" });
    await admin.request("AllocateVariable", {
      service_id: service.service_id,
      variable_name: "n",
      type: "u64",
    });
  } finally {
    admin.close();
  }
}

test("a client moves to the other server when its server dies, and its watch goes on there", async () => {
  const [first, second] = await Promise.all([CommyServer.start(), CommyServer.start()]);
  try {
    const tenant = freshTenant();
    const secret = randomBytes(32).toString("hex");
    await Promise.all([setUp(first, tenant, secret), setUp(second, tenant, secret)]);
    const getToken = () =>
      signJwt(
        { sub: "page", tenant, exp: Math.floor(Date.now() / 1000) + 600, permissions: ["read", "write"] },
        secret,
      );
    const client = track(
      await connect([first.url, second.url], {
        tenant,
        getToken,
        reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
      }),
    );
    assert.ok(client.url.includes(`:${first.port}`), client.url);
    const svc = await client.getService("shared");
    const seen: Change[] = [];
    const stop = svc.watch("n", (change) => seen.push(change));
    await stop.ready;
    const v1 = await svc.write("n", 1);
    await until("the change on the first server", () => seen.at(-1)?.version === v1 && seen.at(-1)?.value === 1);

    await first.kill();
    const onSecond = () => client.url.includes(`:${second.port}`) && client.status === "open";
    await until("the client on the second server", onSecond);
    // A write by another client of the second server reaches the watch: it was subscribed again there.
    const other = track(await connect(second.url, { tenant, getToken }));
    const theirs = await other.getService("shared");
    await theirs.write("n", 41);
    await until("the change on the second server", () => seen.at(-1)?.value === 41);
    // The client's own requests go to the second server too.
    await svc.write("n", 42);
    assert.equal((await theirs.read("n")).value, 42);
    stop();
  } finally {
    await closeClients();
    await Promise.all([first.dispose(), second.dispose()]);
  }
});

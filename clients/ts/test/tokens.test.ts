// Tokens minted by the server (`CreateToken`): an application's backend mints, the page's `getToken` returns them.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { CommyError, connect } from "../src/index.js";
import type { Change } from "../src/index.js";
import { closeClients, freshTenant, track } from "./support/fixture.js";
import { CommyServer, until } from "./support/server.js";

after(closeClients);

test("a backend mints tokens for a page: they carry no more than the backend's rights and are refreshed", async () => {
  const server = await CommyServer.start();
  try {
    const tenant = freshTenant();
    const backendKey = await server.tenantKey(tenant, ["read", "write", "create_service"]);
    const backend = track(await connect(server.url, { tenant, apiKey: backendKey }));
    const weather = await backend.createService("weather");
    await weather.allocate("temperature", { type: "f64", initial: 20 });

    let minted = 0;
    const getToken = async () => {
      minted += 1;
      return backend.createToken({ ttlSeconds: 3, permissions: ["read"], services: ["weather"] });
    };
    const page = track(await connect(server.url, { tenant, getToken }));
    const theirs = await page.getService("weather");
    const seen: Change[] = [];
    const stop = theirs.watch("temperature", (change) => seen.push(change));
    await stop.ready;
    assert.equal((await theirs.read("temperature")).value, 20);
    await assert.rejects(theirs.write("temperature", 99), (error: unknown) => {
      assert.ok(error instanceof CommyError);
      assert.equal(error.code, "PERMISSION_DENIED");
      return true;
    });
    // Before the 3-second token expires the page asks for another, and its watch carries on.
    await until("a refreshed token", () => minted >= 2);
    const version = await weather.write("temperature", 21.5);
    await until("the change after the refresh", () => seen.at(-1)?.version === version);

    await assert.rejects(backend.createToken({ ttlSeconds: 60, permissions: ["admin"] }), (error: unknown) => {
      assert.ok(error instanceof CommyError);
      assert.equal(error.code, "PERMISSION_DENIED");
      return true;
    });
    stop();
  } finally {
    await closeClients();
    await server.dispose();
  }
});

// Two independent `commy serve` processes set up alike for one tenant (the same HS256 key, service `shared` with the
// persistent u64 `n`), as two deployments of one service would be: for the failover tests and benchmark.

import { randomBytes } from "node:crypto";
import type { ConnectOptions } from "../../src/index.js";
import { closeClients, freshTenant } from "./fixture.js";
import { signJwt } from "./jwt.js";
import { CommyServer } from "./server.js";

export interface Pair {
  first: CommyServer;
  second: CommyServer;
  /** The options of a client of the tenant on either server (a JWT from the shared key; fast reconnects). */
  options: ConnectOptions;
}

/** The tenant, its HS256 key, and service `shared` with the persistent u64 `n`, on `server`. */
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
      persistent: true,
    });
  } finally {
    admin.close();
  }
}

/** Starts two servers and sets the tenant up on both. */
export async function startPair(): Promise<Pair> {
  const [first, second] = await Promise.all([CommyServer.start(), CommyServer.start()]);
  const tenant = freshTenant();
  const secret = randomBytes(32).toString("hex");
  await Promise.all([setUp(first, tenant, secret), setUp(second, tenant, secret)]);
  const getToken = () =>
    signJwt(
      { sub: "page", tenant, exp: Math.floor(Date.now() / 1000) + 3600, permissions: ["read", "write"] },
      secret,
    );
  return { first, second, options: { tenant, getToken, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } } };
}

/** Runs `body` with a pair, and disposes of both servers and every tracked client after it. */
export async function withPair(body: (pair: Pair) => Promise<void>): Promise<void> {
  const pair = await startPair();
  try {
    await body(pair);
  } finally {
    await closeClients();
    await Promise.all([pair.first.dispose(), pair.second.dispose()]);
  }
}

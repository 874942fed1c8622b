// Per-test set-up: a fresh tenant on a shared server, and a client of it.

import { connect } from "../../src/index.js";
import type { Client, ConnectOptions, Encoding } from "../../src/index.js";
import { ALL } from "./server.js";
import type { CommyServer } from "./server.js";

let tenants = 0;
const clients: Client[] = [];

/** Remembers `client` for `closeClients`, so that a failed test leaves no connection open. */
export function track(client: Client): Client {
  clients.push(client);
  return client;
}

/** Closes every client made by `fixture` or passed to `track`. */
export async function closeClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client.close()));
}

/** A fresh tenant name, so tests sharing a server do not meet. */
export function freshTenant(): string {
  tenants += 1;
  return `t${tenants}-${process.pid}`;
}

export interface Fixture {
  tenant: string;
  key: string;
  client: Client;
}

/** A fresh tenant with an all-rights key, and a client of it speaking `encoding`. */
export async function fixture(
  server: CommyServer,
  encoding: Encoding,
  options: Partial<ConnectOptions> = {},
): Promise<Fixture> {
  const tenant = freshTenant();
  const key = await server.tenantKey(tenant, ALL);
  const client = track(await connect(server.url, { tenant, apiKey: key, encoding, ...options }));
  return { tenant, key, client };
}

export const ENCODINGS: Encoding[] = ["json", "msgpack"];

// What the examples share: the server, tenant and key from the environment, and `--name value` flags.

import { connect } from "../src/index.js";
import type { Client } from "../src/index.js";

/** Connects with COMMY_URL (default ws://127.0.0.1:8080), COMMY_TENANT and COMMY_KEY. */
export async function connectFromEnv(): Promise<Client> {
  const url = process.env.COMMY_URL ?? "ws://127.0.0.1:8080";
  const tenant = process.env.COMMY_TENANT;
  const apiKey = process.env.COMMY_KEY;
  if (!tenant || !apiKey) {
    console.error("set COMMY_TENANT and COMMY_KEY (and COMMY_URL if the server is not on ws://127.0.0.1:8080)");
    process.exit(2);
  }
  const client = await connect(url, { tenant, apiKey });
  client.on("status", (status) => console.error(`[connection ${status}]`));
  return client;
}

/** The value of `--name` as a number, or `fallback`. */
export function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const text = at >= 0 ? process.argv[at + 1] : undefined;
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) {
    console.error(`--${name} needs a number, got '${text}'`);
    process.exit(2);
  }
  return value;
}

// A real `commy serve` for the tests: the binary built by scripts/test-ts.sh (COMMY_BIN), on a free loopback port,
// with a fresh data directory and a known admin key.

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RawSession } from "./raw.js";

const here = fileURLToPath(new URL(".", import.meta.url));
/** The commy binary: $COMMY_BIN, or the workspace's debug build. */
export const COMMY_BIN = process.env.COMMY_BIN ?? resolve(here, "../../../../../target/debug/commy");

export const ALL = ["admin", "create_service", "delete_service", "read", "write"];
export const READ_ONLY = ["read"];

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

export class CommyServer {
  private child: ChildProcess | undefined;
  private log = "";
  readonly adminKey = `admin-${randomBytes(16).toString("hex")}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), "commy-ts-test-"));

  private constructor(readonly port: number) {}

  static async start(): Promise<CommyServer> {
    const server = new CommyServer(await freePort());
    await server.launch();
    return server;
  }

  /** The server's URL as a client gives it. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    this.log = "";
    const child = spawn(COMMY_BIN, ["serve", "--listen", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir], {
      env: { ...process.env, COMMY_ADMIN_KEY: this.adminKey, RUST_LOG: process.env.RUST_LOG ?? "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-20_000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    this.child = child;
    // Ready when /healthz answers; bounded.
    for (let attempt = 0; attempt < 300; attempt++) {
      if (child.exitCode !== null) throw new Error(`commy serve exited with ${child.exitCode}:\n${this.log}`);
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/healthz`);
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      await sleep(50);
    }
    throw new Error(`commy serve did not answer /healthz:\n${this.log}`);
  }

  /** Stops the server (SIGTERM, a graceful shutdown) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the server at once (SIGKILL), as a crash or a lost machine would, and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGKILL");
    await exited;
  }

  /** Stops the server and starts it again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Stops the server and removes its data directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A raw JSON session signed in with the admin key. */
  async admin(): Promise<RawSession> {
    const session = await RawSession.open(this.url);
    await session.request("Authenticate", { client_version: "ts-test", method: "api_key", key: this.adminKey });
    return session;
  }

  /** Creates `tenant` (if needed) and an API key in it with `permissions`; returns the key. */
  async tenantKey(tenant: string, permissions: string[]): Promise<string> {
    const admin = await this.admin();
    try {
      await admin.request("CreateTenant", { tenant_id: tenant, tenant_name: tenant }).catch((error: unknown) => {
        if (!String(error).includes("ALREADY_EXISTS")) throw error;
      });
      const reply = await admin.request("CreateApiKey", { tenant_id: tenant, name: "test", permissions });
      return String(reply.key);
    } finally {
      admin.close();
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Waits until `condition()` holds, checking every 20 ms, for at most `limitMs`; throws naming `what` otherwise. */
export async function until(what: string, condition: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

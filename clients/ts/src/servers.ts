// The servers a client may use: the URL list it was given, the one in use, and why the others failed.

import { CommyError } from "./errors.js";
import { endpointUrl } from "./socket.js";

/**
 * The WebSocket URLs of `urls`: one URL, a comma-separated string of them, or a list (whose entries may hold commas
 * too). INVALID_REQUEST if there is none or one is not a server URL.
 */
export function serverUrls(urls: string | readonly string[]): string[] {
  const given = typeof urls === "string" ? [urls] : [...urls];
  const parts = given.flatMap((entry) => entry.split(",")).map((part) => part.trim());
  const nonEmpty = parts.filter((part) => part !== "");
  if (nonEmpty.length === 0) throw new CommyError("INVALID_REQUEST", "connect needs at least one server URL");
  return nonEmpty.map(endpointUrl);
}

/** The list in round-robin order, with the last failure of each server, for the error that names them all. */
export class ServerList {
  private index = 0;
  private readonly failures = new Map<string, string>();

  constructor(readonly urls: readonly string[]) {}

  /** The URL in use (or being tried). */
  get current(): string {
    return this.urls[this.index] as string;
  }

  /** Goes to `index` (the first round of `connect`). */
  select(index: number): void {
    this.index = index % this.urls.length;
  }

  /** Moves to the next server, round robin. */
  advance(): void {
    this.index = (this.index + 1) % this.urls.length;
  }

  /** Remembers why the current server could not be used. */
  failed(error: CommyError): void {
    this.failures.set(this.current, error.message);
  }

  /** A server took the client: older failures no longer describe the list. */
  succeeded(): void {
    this.failures.clear();
  }

  /** CONNECTION_LOST naming every server and its last failure. */
  unreachable(rounds: number): CommyError {
    const tries = rounds === 1 ? "once" : `${rounds} times`;
    const why = this.urls.map((url) => `${url}: ${this.failures.get(url) ?? "not tried"}`).join("; ");
    return new CommyError("CONNECTION_LOST", `no server answered (each tried ${tries}): ${why}`);
  }
}

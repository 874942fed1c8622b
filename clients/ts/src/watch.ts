// One watch: a listener of one variable (or of every variable of a service, "*"), and what it has delivered.

import { asCommyError, CommyError } from "./errors.js";
import type { Service } from "./service.js";
import type { Change } from "./values.js";

export type ChangeListener = (change: Change) => void;

export interface WatchOptions {
  /**
   * Called when the watch ends because the server refused it (for example NOT_FOUND: the variable was deleted, or
   * UNAUTHORIZED). Without it the error goes to the client's "error" event. Lost connections do not end a watch.
   */
  onError?: (error: CommyError) => void;
  /**
   * Do not deliver changes this client wrote (`Subscribe` with `skip_own_writes`): only other connections' and
   * processes' changes, after the current value. The server skips them per subscription, which every watch of this
   * client on the same variable (or `"*"`) shares: while one of them does not skip, they all get the client's own
   * writes, and so does a skipping watch of `"*"` beside a watch of one variable that does not skip (or the other way
   * round). Default false.
   */
  skipOwnWrites?: boolean;
}

/** Stops a watch. `ready` settles once the watch is subscribed and has delivered the current value. */
export type Unwatch = (() => void) & { ready: Promise<void> };

interface Delivered {
  version: number;
  data: Uint8Array;
}

export class WatchState {
  active = true;
  private readonly delivered = new Map<string, Delivered>();
  /** Variables whose next change may repeat the last delivered version with other content (another server's). */
  private readonly resyncing = new Set<string>();
  private settle: { resolve: () => void; reject: (error: CommyError) => void } | undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly service: Service,
    readonly variable: string,
    private readonly listener: ChangeListener,
    private readonly onError: ((error: CommyError) => void) | undefined,
    private readonly reportError: (error: CommyError) => void,
    readonly skipOwnWrites = false,
  ) {
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => undefined);
  }

  get wantsAll(): boolean {
    return this.variable === "*";
  }

  matches(variable: string): boolean {
    return this.wantsAll || this.variable === variable;
  }

  /**
   * A new subscription (first, or after a reconnect, perhaps on another server): the next value of each variable is
   * delivered if it is newer than the last one delivered, or of the same version with other content. An older version
   * is never delivered: a watch does not go back, even on a server that is behind the one it left.
   */
  beginResync(): void {
    this.resyncing.clear();
    for (const name of this.delivered.keys()) this.resyncing.add(name);
  }

  /** The watch is subscribed and has offered the current value(s). */
  synced(): void {
    this.resyncing.clear();
    this.settle?.resolve();
    this.settle = undefined;
  }

  /** A change from a push or a read: delivered unless this watch has already delivered it or a later one. */
  offer(change: Change): void {
    if (!this.active || !this.matches(change.variable)) return;
    const last = this.delivered.get(change.variable);
    if (this.resyncing.has(change.variable)) {
      this.resyncing.delete(change.variable);
      if (last && change.version < last.version) return;
      if (last && last.version === change.version && sameBytes(last.data, change.data)) return;
    } else if (last && change.version <= last.version) {
      return;
    }
    this.delivered.set(change.variable, { version: change.version, data: change.data });
    try {
      this.listener(change);
    } catch (error) {
      console.error("commy: a watch listener threw", error);
    }
  }

  /** The server refused the watch: it ends, and the error is reported once. */
  fail(error: unknown): void {
    if (!this.active) return;
    this.active = false;
    const commyError = asCommyError(error);
    if (this.settle) {
      this.settle.reject(commyError);
      this.settle = undefined;
    }
    if (this.onError) this.onError(commyError);
    else this.reportError(commyError);
  }

  /** Stopped by its owner: a pending `ready` rejects. */
  stopped(): void {
    this.active = false;
    this.settle?.reject(new CommyError("CONNECTION_LOST", "the watch was stopped before it was ready"));
    this.settle = undefined;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

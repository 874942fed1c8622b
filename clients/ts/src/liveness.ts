// Liveness: a heartbeat while the link is quiet, and an immediate check when a page becomes visible again or the
// browser comes back online (a laptop waking up, a phone changing networks).

export interface LivenessOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Sends a heartbeat; the caller drops the link if it fails. */
  probe(timeoutMs: number): Promise<void>;
  /** Cuts a reconnect backoff short. */
  wake(): void;
}

interface EventSource {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export class Liveness {
  private timer: ReturnType<typeof setInterval> | undefined;
  private linked = false;
  private readonly onSignal = () => this.check();
  private readonly onVisibility = () => {
    const doc = (globalThis as { document?: { visibilityState?: string } }).document;
    if (doc?.visibilityState === "visible") this.check();
  };

  constructor(private readonly options: LivenessOptions) {}

  /** Starts listening to the browser's online and visibility events (no-op on Node). */
  attach(): void {
    const window = browserWindow();
    window?.addEventListener("online", this.onSignal);
    window?.addEventListener("offline", this.onSignal);
    browserDocument()?.addEventListener("visibilitychange", this.onVisibility);
  }

  detach(): void {
    const window = browserWindow();
    window?.removeEventListener("online", this.onSignal);
    window?.removeEventListener("offline", this.onSignal);
    browserDocument()?.removeEventListener("visibilitychange", this.onVisibility);
    this.linkClosed();
  }

  linkOpened(): void {
    this.linked = true;
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      this.options.probe(this.options.timeoutMs).catch(() => undefined);
    }, this.options.intervalMs);
    // The socket keeps a Node process alive while it is open; the heartbeat timer alone should not.
    (this.timer as { unref?: () => void }).unref?.();
  }

  linkClosed(): void {
    this.linked = false;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Probes an open link at once, or retries a closed one at once. */
  check(): void {
    if (this.linked) this.options.probe(Math.min(this.options.timeoutMs, 3_000)).catch(() => undefined);
    else this.options.wake();
  }
}

function browserWindow(): EventSource | undefined {
  const candidate = (globalThis as { window?: EventSource }).window;
  return typeof candidate?.addEventListener === "function" ? candidate : undefined;
}

function browserDocument(): EventSource | undefined {
  const candidate = (globalThis as { document?: EventSource }).document;
  return typeof candidate?.addEventListener === "function" ? candidate : undefined;
}

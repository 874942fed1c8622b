// One open WebSocket: requests matched to replies by id, pushes handed on, and everything pending failed on close.

import { decodeEnvelope, encodeEnvelope, toNumber } from "./codec.js";
import type { Encoding, Envelope, Fields } from "./codec.js";
import { CommyError } from "./errors.js";
import type { WebSocketLike } from "./socket.js";

interface Pending {
  type: string;
  resolve: (reply: Envelope) => void;
  reject: (error: CommyError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface LinkHandlers {
  /** A message that answers no request: a push. */
  push(message: Envelope): void;
  /** The socket closed (by either side); called once. */
  closed(reason: string): void;
}

export class Link {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private open = true;

  constructor(
    private readonly socket: WebSocketLike,
    private readonly encoding: Encoding,
    private readonly handlers: LinkHandlers,
  ) {
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => {
      const why = event.reason ? `: ${event.reason}` : "";
      this.shut(`the connection closed (code ${event.code}${why})`);
    };
    socket.onerror = () => {
      // The close event follows.
    };
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Sends `type` with `data`; resolves with the reply, rejects with the server's Error or TIMEOUT/CONNECTION_LOST. */
  request(type: string, data: Fields, timeoutMs: number): Promise<Envelope> {
    if (!this.open) return Promise.reject(new CommyError("CONNECTION_LOST", `cannot send ${type}: not connected`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CommyError("TIMEOUT", `no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { type, resolve, reject, timer });
      try {
        this.socket.send(encodeEnvelope(this.encoding, { type, data, id }));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new CommyError("CONNECTION_LOST", `cannot send ${type}: ${String(error)}`));
      }
    });
  }

  /** Closes the socket (normal closure); pending requests fail with CONNECTION_LOST. */
  close(reason = "closed by the client"): void {
    if (!this.open) return;
    try {
      this.socket.close(1000, reason);
    } catch {
      // Already closing.
    }
    this.shut(reason);
  }

  private receive(frame: unknown): void {
    let message: Envelope;
    try {
      message = decodeEnvelope(this.encoding, frame);
    } catch (error) {
      this.close(error instanceof Error ? error.message : String(error));
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!pending) {
      this.handlers.push(message);
      return;
    }
    this.pending.delete(message.id as number);
    clearTimeout(pending.timer);
    if (message.type === "Error") {
      const code = typeof message.data.code === "string" ? message.data.code : "INTERNAL_ERROR";
      const text = typeof message.data.message === "string" ? message.data.message : `${pending.type} failed`;
      const error = new CommyError(code, text);
      const current = toNumber(message.data.current_version);
      if (current !== undefined) Object.assign(error, { currentVersion: current });
      pending.reject(error);
    } else {
      pending.resolve(message);
    }
  }

  private shut(reason: string): void {
    if (!this.open) return;
    this.open = false;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new CommyError("CONNECTION_LOST", `no reply to ${pending.type}: ${reason}`));
      this.pending.delete(id);
    }
    this.socket.onmessage = this.socket.onclose = null;
    this.handlers.closed(reason);
  }
}

// The one transport seam: a WebSocket, the browser's own or the `ws` package's on Node.

import { CommyError } from "./errors.js";

/** What the client uses of a WebSocket; the browser's WebSocket and `ws`'s both fit. */
export interface WebSocketLike {
  readonly protocol: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** A WebSocket constructor, for `ConnectOptions.WebSocket`. */
export type WebSocketFactory = new (url: string, protocols: string[]) => WebSocketLike;

async function defaultFactory(): Promise<WebSocketFactory> {
  const native = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof native === "function") return native as WebSocketFactory;
  // Node 20 has no WebSocket of its own. The name is in a variable so that browser bundlers leave it alone.
  const name = "ws";
  const module = (await import(name)) as { default: unknown };
  return module.default as WebSocketFactory;
}

/**
 * The server URL as the WebSocket URL of its `/ws` endpoint: `http(s)` becomes `ws(s)`, and an empty path `/ws`.
 */
export function endpointUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CommyError("INVALID_REQUEST", `server URL '${url}' is not a URL (expected one like ws://127.0.0.1:8080)`);
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new CommyError("INVALID_REQUEST", `server URL '${url}' must start with ws://, wss://, http:// or https://`);
  }
  if (parsed.pathname === "" || parsed.pathname === "/") parsed.pathname = "/ws";
  return parsed.toString();
}

/** Opens a WebSocket to `url` asking for `protocol`; CONNECTION_LOST if it does not open, TIMEOUT if not in time. */
export async function openSocket(
  url: string,
  protocol: string,
  timeoutMs: number,
  factory?: WebSocketFactory,
): Promise<WebSocketLike> {
  const WebSocketClass = factory ?? (await defaultFactory());
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new WebSocketClass(url, [protocol]);
    } catch (error) {
      reject(new CommyError("CONNECTION_LOST", `cannot open a WebSocket to ${url}: ${String(error)}`));
      return;
    }
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      socket.onclose = null;
      socket.close();
      reject(new CommyError("TIMEOUT", `the WebSocket to ${url} did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.onopen = () => {
      clearTimeout(timer);
      socket.onopen = socket.onclose = socket.onerror = null;
      if (socket.protocol !== protocol) {
        socket.close(1002, "subprotocol not agreed");
        reject(new CommyError("CONNECTION_LOST", `${url} did not agree to subprotocol ${protocol}`));
        return;
      }
      resolve(socket);
    };
    socket.onerror = () => {
      // The close event follows with the code; browsers give no detail here.
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      const why = event.reason ? `: ${event.reason}` : "";
      reject(new CommyError("CONNECTION_LOST", `cannot connect to ${url} (close code ${event.code}${why})`));
    };
  });
}

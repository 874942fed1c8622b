// A raw JSON WebSocket session, without the client: for admin set-up in tests and the benchmark's baseline.

import WebSocket from "ws";

type Fields = Record<string, unknown>;

export class RawSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (data: Fields) => void; reject: (error: Error) => void }>();
  /** Messages without a pending id (pushes). */
  readonly pushes: Fields[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (raw: Buffer) => {
      const message = JSON.parse(raw.toString()) as { type: string; data: Fields; id?: number };
      const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
      if (!waiter) {
        this.pushes.push({ type: message.type, ...message.data });
        return;
      }
      this.pending.delete(message.id as number);
      if (message.type === "Error") waiter.reject(new Error(`${String(message.data.code)}: ${String(message.data.message)}`));
      else waiter.resolve(message.data);
    });
  }

  static async open(url: string): Promise<RawSession> {
    const socket = new WebSocket(`${url}/ws`, ["commy.v1.json"]);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    return new RawSession(socket);
  }

  request(type: string, data: Fields): Promise<Fields> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ type, data, id }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

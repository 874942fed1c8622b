// The client against a scripted WebSocket server: unknown pushes and fields are ignored, a link that stops
// answering heartbeats is dropped and replaced.

import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { connect } from "../src/index.js";
import type { Change, Status } from "../src/index.js";
import { closeClients, track } from "./support/fixture.js";
import { until } from "./support/server.js";

after(closeClients);

type Message = { type: string; data: Record<string, unknown>; id?: number };

/** A server that answers as Commy would, with `extra` messages sent after each Subscribe reply. */
async function scripted(options: { answerHeartbeats: boolean; extra: Message[]; endFirstSubscription?: boolean }) {
  const requests: string[] = [];
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: () => "commy.v1.json" });
  await new Promise((resolve) => wss.once("listening", resolve));
  const connections: WebSocket[] = [];
  wss.on("connection", (socket) => {
    connections.push(socket);
    socket.on("message", (raw: Buffer) => {
      const request = JSON.parse(raw.toString()) as Message;
      requests.push(request.type);
      const reply = (type: string, data: Record<string, unknown>) =>
        socket.send(JSON.stringify({ type, data, id: request.id, unknown_field: "from a newer server" }));
      switch (request.type) {
        case "Authenticate":
          return reply("AuthenticationResult", { success: true, message: "ok", permissions: ["read"], later: 1 });
        case "GetService":
          return reply("ServiceInfo", { service_id: "svc_1", service_name: "s", tenant_id: "t", shiny: true });
        case "Subscribe":
          reply("Result", { success: true, message: "subscribed" });
          for (const message of options.extra) socket.send(JSON.stringify(message));
          if (options.endFirstSubscription && requests.filter((type) => type === "Subscribe").length === 1) {
            const data = { service_id: "svc_1", variable_name: "v", reason: "the key was changed" };
            socket.send(JSON.stringify({ type: "SubscriptionEnded", data }));
          }
          return;
        case "ReadVariable":
          return reply("VariableData", { service_id: "svc_1", variable_name: "v", data: [1], version: 1, value: true });
        case "Heartbeat":
          if (options.answerHeartbeats) reply("Heartbeat", { timestamp: Date.now() });
          return;
        default:
          return reply("Error", { code: "INVALID_REQUEST", message: `unscripted ${request.type}` });
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  const close = () => {
    for (const socket of wss.clients) socket.terminate();
    wss.close();
  };
  return { url: `ws://127.0.0.1:${port}`, close, connections, requests };
}

test("pushes and fields the client does not know are ignored", async () => {
  const server = await scripted({
    answerHeartbeats: true,
    extra: [
      { type: "SomethingNew", data: { service_id: "svc_1", what: "a push from the future" } },
      { type: "VariableChanged", data: { service_id: "svc_1", variable_name: "v", data: [0], version: 2, value: false, origin: "x" } },
    ],
  });
  const client = track(await connect(server.url, { tenant: "t", apiKey: "k" }));
  const service = await client.getService("s");
  const seen: Change[] = [];
  const stop = service.watch("v", (change) => seen.push(change));
  await until("the known push", () => seen.some((c) => c.version === 2));
  // The read's version 1 may come after the push of version 2; then it is not delivered (never backwards).
  const versions = seen.map((c) => c.version);
  assert.ok(versions.every((v, i) => i === 0 || (versions[i - 1] as number) < v), `in order: ${versions.join(",")}`);
  assert.deepEqual([seen.at(-1)?.version, seen.at(-1)?.value], [2, false]);
  stop();
  await client.close();
  server.close();
});

test("a link that stops answering heartbeats is dropped and the client reconnects", async () => {
  const server = await scripted({ answerHeartbeats: false, extra: [] });
  const client = track(
    await connect(server.url, {
      tenant: "t",
      apiKey: "k",
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 100,
      reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
    }),
  );
  const statuses: Status[] = [];
  client.on("status", (status) => statuses.push(status));
  await until("a reconnect", () => statuses.includes("reconnecting") && statuses.at(-1) === "open");
  assert.ok(server.connections.length >= 2, "a second connection was made");
  await client.close();
  server.close();
});

test("a subscription the server ends is made again, and the watch goes on", async () => {
  const server = await scripted({ answerHeartbeats: true, extra: [], endFirstSubscription: true });
  const client = track(await connect(server.url, { tenant: "t", apiKey: "k" }));
  const service = await client.getService("s");
  const seen: Change[] = [];
  const stop = service.watch("v", (change) => seen.push(change));
  await stop.ready;
  await until("a second Subscribe", () => server.requests.filter((type) => type === "Subscribe").length === 2);
  assert.deepEqual(
    seen.map((c) => c.version),
    [1],
    "the same value is not delivered twice",
  );
  stop();
  await client.close();
  server.close();
});

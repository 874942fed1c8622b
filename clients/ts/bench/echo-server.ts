// The benchmark's baseline: a raw `ws` echo server in its own process; prints its port, echoes every message.

import { WebSocketServer } from "ws";

const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
wss.on("listening", () => {
  const address = wss.address();
  console.log(typeof address === "string" ? address : address?.port);
});

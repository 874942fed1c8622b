/**
 * `@commy/client`: Commy's client for browsers and Node. Connect to a tenant, then create, read, write and watch
 * variables; the client reconnects by itself and keeps every watch going.
 *
 * ```ts
 * import { connect } from "@commy/client";
 * const client = await connect("ws://127.0.0.1:8080", { tenant: "acme", apiKey: "commy_..." });
 * const weather = await client.getService("weather");
 * const stop = weather.watch("temperature", (change) => console.log(change.value, change.version));
 * ```
 */
export { Client, connect } from "./client.js";
export type { ClientEvents, ConnectOptions, ReconnectEvent, Status } from "./client.js";
export { CommyError } from "./errors.js";
export type { ErrorCode } from "./errors.js";
export type { Encoding } from "./codec.js";
export { Service } from "./service.js";
export type { AllocateOptions } from "./service.js";
export type { TokenResult, TokenSource } from "./token.js";
export { formatValue, parseValue } from "./text.js";
export { VALUE_TYPES } from "./values.js";
export type { Change, Json, Value, ValueType, VariableInfo } from "./values.js";
export type { ChangeListener, Unwatch, WatchOptions } from "./watch.js";
export type { WebSocketFactory, WebSocketLike } from "./socket.js";

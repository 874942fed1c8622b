// The two encodings of the envelope `{type, data, id?}`: JSON text frames and MessagePack binary frames.

import { decode, encode } from "@msgpack/msgpack";
import { CommyError } from "./errors.js";

export type Encoding = "json" | "msgpack";

/** The WebSocket subprotocol of each encoding. */
export const SUBPROTOCOLS: Record<Encoding, string> = {
  json: "commy.v1.json",
  msgpack: "commy.v1.msgpack",
};

export type Fields = Record<string, unknown>;

/** One message, in either direction. */
export interface Envelope {
  type: string;
  data: Fields;
  id?: number;
}

export type Frame = string | Uint8Array;

const BIGINT_MARK = "\u0000commy-bigint:";
const BIGINT_QUOTED = /"\\u0000commy-bigint:(-?\d+)"/g;

/** Encodes `envelope`: JSON with bytes as arrays of numbers and bigints as exact digits, or MessagePack. */
export function encodeEnvelope(encoding: Encoding, envelope: Envelope): Frame {
  if (encoding === "msgpack") {
    return encode(envelope, { useBigInt64: true, ignoreUndefined: true });
  }
  const text = JSON.stringify(envelope, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Array.from(value);
    if (typeof value === "bigint") return BIGINT_MARK + value.toString();
    return value;
  });
  return text.replace(BIGINT_QUOTED, "$1");
}

/** Decodes one frame; a frame that is not an envelope is an INTERNAL_ERROR (the server broke the protocol). */
export function decodeEnvelope(encoding: Encoding, frame: unknown): Envelope {
  let message: unknown;
  try {
    if (typeof frame === "string") {
      message = JSON.parse(frame);
    } else if (frame instanceof ArrayBuffer || ArrayBuffer.isView(frame)) {
      const bytes =
        frame instanceof ArrayBuffer ? new Uint8Array(frame) : new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
      message = encoding === "msgpack" ? decode(bytes, { useBigInt64: true }) : JSON.parse(new TextDecoder().decode(bytes));
    } else {
      throw new Error(`a frame of type ${typeof frame}`);
    }
  } catch (error) {
    throw new CommyError("INTERNAL_ERROR", `the server sent a frame that does not decode: ${String(error)}`);
  }
  if (typeof message !== "object" || message === null || typeof (message as Fields).type !== "string") {
    throw new CommyError("INTERNAL_ERROR", "the server sent a message without a `type`");
  }
  const raw = message as Fields;
  const data = typeof raw.data === "object" && raw.data !== null ? (raw.data as Fields) : {};
  const id = toNumber(raw.id);
  return id === undefined ? { type: raw.type as string, data } : { type: raw.type as string, data, id };
}

/** A protocol integer (number or bigint) as a number, or undefined. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

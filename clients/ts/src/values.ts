// Variable values: the wire's `data` (bytes) and `value` (JSON) turned into one JavaScript value, and back.

import type { Fields } from "./codec.js";
import { toNumber } from "./codec.js";
import { CommyError } from "./errors.js";

/** A variable's type (docs/protocol.md, "Types"). */
export type ValueType = "bytes" | "u64" | "i64" | "f64" | "bool" | "string" | "json";

export const VALUE_TYPES: readonly ValueType[] = ["bytes", "u64", "i64", "f64", "bool", "string", "json"];

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A variable's value in JavaScript: `Uint8Array` for `bytes`, `number` for `f64` and for `u64`/`i64` within
 * ±2^53, `bigint` for `u64`/`i64` beyond that, `boolean`, `string`, and any JSON value for `json`.
 */
export type Value = Json | bigint | Uint8Array;

/** A variable's value at one version: what `read` returns and what a watch delivers. */
export interface Change {
  /** The service's name. */
  service: string;
  variable: string;
  value: Value;
  version: number;
  /** The raw bytes, as stored. */
  data: Uint8Array;
}

/** A variable as `Service.list` describes it. */
export interface VariableInfo {
  name: string;
  type: ValueType;
  capacity: number;
  /** Bytes held now. */
  length: number;
  version: number;
  persistent: boolean;
}

/** Bytes from the wire: MessagePack `bin` or a JSON array of numbers. */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  return new Uint8Array();
}

/**
 * The JavaScript value of a `VariableData` or `VariableChanged` message. `type` is the variable's type when the
 * client knows it. Integers beyond ±2^53 are read exactly from the bytes (JSON numbers lose them).
 */
export function valueOf(fields: Fields, data: Uint8Array, type: ValueType | undefined): Value {
  if (type === "bytes") return data;
  if (!("value" in fields)) {
    // No JSON value: bytes, or an f64 holding NaN or an infinity.
    if (type === "f64" && data.length === 8) return view(data).getFloat64(0, true);
    return data;
  }
  const value = fields.value;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (typeof value === "number" && data.length === 8 && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return exactInteger(value, data, type);
  }
  return value as Json;
}

function exactInteger(value: number, data: Uint8Array, type: ValueType | undefined): Value {
  const unsigned = view(data).getBigUint64(0, true);
  const signed = view(data).getBigInt64(0, true);
  if (type === "u64" || (type === undefined && Number(unsigned) === value)) return unsigned;
  if (type === "i64" || (type === undefined && Number(signed) === value)) return signed;
  return value;
}

function view(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** The fields a write of `value` sends: `data` for bytes and for non-finite f64, else `value`. */
export function writeFields(value: Value, type: ValueType | undefined): Fields {
  if (value instanceof Uint8Array) return { data: value };
  if (typeof value === "number" && !Number.isFinite(value)) {
    if (type !== undefined && type !== "f64") {
      throw new CommyError("INVALID_REQUEST", `value ${value} does not fit type ${type}`);
    }
    const bytes = new Uint8Array(8);
    view(bytes).setFloat64(0, value, true);
    return { data: bytes };
  }
  return { value };
}

/** A Change from the fields of a `VariableData` or `VariableChanged` message. */
export function changeOf(service: string, fields: Fields, type: ValueType | undefined): Change {
  const data = toBytes(fields.data);
  return {
    service,
    variable: String(fields.variable_name),
    value: valueOf(fields, data, type),
    version: toNumber(fields.version) ?? 0,
    data,
  };
}

/** A VariableInfo from one entry of a `VariableList`. */
export function variableInfoOf(fields: Fields): VariableInfo {
  return {
    name: String(fields.variable_name),
    type: String(fields.type) as ValueType,
    capacity: toNumber(fields.capacity) ?? 0,
    length: toNumber(fields.len) ?? 0,
    version: toNumber(fields.version) ?? 0,
    persistent: fields.persistent === true,
  };
}

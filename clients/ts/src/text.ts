// Values as text and back, checked against a variable's type: for forms (the dashboard) and command lines.

import { CommyError } from "./errors.js";
import type { Json, Value, ValueType } from "./values.js";

const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/**
 * Parses `text` as a value of `type`, or throws INVALID_REQUEST naming what is wrong. Integers beyond ±2^53 come
 * back as `bigint`; bytes are written in hex (`01 02 ff` or `0102ff`).
 */
export function parseValue(type: ValueType, text: string): Value {
  const trimmed = text.trim();
  switch (type) {
    case "u64":
    case "i64": {
      if (!/^-?\d+$/.test(trimmed)) throw invalid(`'${text}' is not a whole number (type ${type})`);
      const n = BigInt(trimmed);
      const [min, max] = type === "u64" ? [0n, U64_MAX] : [I64_MIN, I64_MAX];
      if (n < min || n > max) throw invalid(`${trimmed} is out of range for type ${type} (${min} to ${max})`);
      return Number.isSafeInteger(Number(n)) ? Number(n) : n;
    }
    case "f64": {
      if (/^[-+]?(nan|inf|infinity)$/i.test(trimmed)) return Number(trimmed.replace(/^([-+]?)inf$/i, "$1Infinity"));
      const n = Number(trimmed);
      if (trimmed === "" || Number.isNaN(n)) throw invalid(`'${text}' is not a number (type f64)`);
      return n;
    }
    case "bool":
      if (trimmed === "true") return true;
      if (trimmed === "false") return false;
      throw invalid(`'${text}' is not a boolean: write true or false (type bool)`);
    case "string":
      return text;
    case "json":
      try {
        return JSON.parse(text) as Json;
      } catch (error) {
        throw invalid(`not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
    case "bytes": {
      const hex = trimmed.replace(/^0x/i, "").replace(/[\s:]/g, "");
      if (!/^([0-9a-f]{2})*$/i.test(hex)) throw invalid(`'${text}' is not bytes in hex, such as 01 02 ff (type bytes)`);
      return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
    }
  }
}

/** A value as text: hex for bytes, JSON for `json` (and objects), the plain value otherwise. */
export function formatValue(value: Value, type?: ValueType): string {
  if (value instanceof Uint8Array) return Array.from(value, (b) => b.toString(16).padStart(2, "0")).join(" ");
  if (typeof value === "bigint") return value.toString();
  if (type === "string" && typeof value === "string") return value;
  if (type === "json" || typeof value === "object" || typeof value === "string") return JSON.stringify(value);
  return String(value);
}

function invalid(message: string): CommyError {
  return new CommyError("INVALID_REQUEST", message);
}

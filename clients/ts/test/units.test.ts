// The pure parts: values as text, URLs, token expiry, the JSON encoding of bigints and bytes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeEnvelope } from "../src/codec.js";
import { CommyError, formatValue, parseValue } from "../src/index.js";
import { serverUrls } from "../src/servers.js";
import { endpointUrl } from "../src/socket.js";
import { jwtExpiryMs, refreshDelayMs } from "../src/token.js";
import { signJwt } from "./support/jwt.js";

test("parseValue checks text against the type", () => {
  assert.equal(parseValue("u64", "42"), 42);
  assert.equal(parseValue("u64", "18446744073709551615"), 2n ** 64n - 1n);
  assert.equal(parseValue("i64", "-9223372036854775808"), -(2n ** 63n));
  assert.equal(parseValue("f64", " 21.5 "), 21.5);
  assert.ok(Number.isNaN(parseValue("f64", "NaN")));
  assert.equal(parseValue("f64", "-inf"), -Infinity);
  assert.equal(parseValue("bool", "true"), true);
  assert.equal(parseValue("string", " kept as is "), " kept as is ");
  assert.deepEqual(parseValue("json", '{"a":[1,null]}'), { a: [1, null] });
  assert.deepEqual(parseValue("bytes", "01 02 ff"), Uint8Array.of(1, 2, 255));
  const refusals: [Parameters<typeof parseValue>[0], string, RegExp][] = [
    ["u64", "-1", /out of range for type u64/],
    ["u64", "18446744073709551616", /out of range/],
    ["i64", "1.5", /not a whole number/],
    ["f64", "warm", /not a number/],
    ["f64", "", /not a number/],
    ["bool", "yes", /true or false/],
    ["json", "{", /not valid JSON/],
    ["bytes", "0g", /not bytes in hex/],
  ];
  for (const [type, text, message] of refusals) {
    assert.throws(
      () => parseValue(type, text),
      (error: unknown) => error instanceof CommyError && error.code === "INVALID_REQUEST" && message.test(error.message),
      `${type} '${text}'`,
    );
  }
});

test("formatValue writes what parseValue reads", () => {
  assert.equal(formatValue(Uint8Array.of(1, 171)), "01 ab");
  assert.equal(formatValue(2n ** 64n - 1n), "18446744073709551615");
  assert.equal(formatValue("a b", "string"), "a b");
  assert.equal(formatValue({ a: 1 }, "json"), '{"a":1}');
  assert.equal(formatValue(21.5, "f64"), "21.5");
});

test("server URLs become the /ws endpoint", () => {
  assert.equal(endpointUrl("ws://127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
  assert.equal(endpointUrl("https://commy.example/"), "wss://commy.example/ws");
  assert.equal(endpointUrl("ws://host/custom/ws"), "ws://host/custom/ws");
  assert.throws(() => endpointUrl("ftp://host"), /must start with ws:\/\//);
  assert.throws(() => endpointUrl("not a url"), /is not a URL/);
});

test("several server URLs: a list, a comma-separated string, or both", () => {
  const both = ["ws://a:1/ws", "ws://b:2/ws"];
  assert.deepEqual(serverUrls("ws://a:1, ws://b:2"), both);
  assert.deepEqual(serverUrls(["ws://a:1", "http://b:2,"]), both);
  const invalid = (error: unknown) => error instanceof CommyError && error.code === "INVALID_REQUEST";
  assert.throws(() => serverUrls(" , "), invalid);
  assert.throws(() => serverUrls([]), /at least one server URL/);
  assert.throws(() => serverUrls("ws://a:1,ftp://b"), /'ftp:\/\/b' must start with ws:\/\//);
});

test("a JWT's expiry sets when the client refreshes it", () => {
  const token = signJwt({ sub: "x", exp: 2_000_000_000 }, "secret");
  assert.equal(jwtExpiryMs(token), 2_000_000_000_000);
  assert.equal(jwtExpiryMs("opaque-token"), undefined);
  assert.equal(refreshDelayMs(4_000, 0), 3_000, "a quarter of a short life early");
  assert.equal(refreshDelayMs(3_600_000, 0), 3_540_000, "at most a minute early");
  assert.equal(refreshDelayMs(0, 10_000), 500, "an expired token is refreshed soon, not in a busy loop");
});

test("JSON frames carry bigints exactly and bytes as arrays of numbers", () => {
  const frame = encodeEnvelope("json", { type: "WriteVariable", data: { value: 2n ** 64n - 1n, data: Uint8Array.of(1, 2) } });
  assert.equal(frame, '{"type":"WriteVariable","data":{"value":18446744073709551615,"data":[1,2]}}');
});

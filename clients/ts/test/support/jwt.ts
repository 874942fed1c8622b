// HS256 JWTs signed with node:crypto, as an application's backend would mint them for its pages.

import { createHmac } from "node:crypto";

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString("base64url");
}

/** A JWT of `claims`, signed HS256 with `secret`. */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  return `${head}.${body}.${base64url(signature)}`;
}

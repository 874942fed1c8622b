// Credentials: an API key, or a token from the application's `getToken`, and when to refresh that token.

import { CommyError } from "./errors.js";

/** What `getToken` may return: the token, or the token with its method and expiry. */
export type TokenResult = string | { token: string; expiresAtMs?: number; method?: string };

/** Called on every (re)connect and before the current token expires. */
export type TokenSource = () => TokenResult | Promise<TokenResult>;

export interface Credential {
  /** The `Authenticate` fields that carry it. */
  fields: Record<string, string>;
  /** When it expires, if known: a refresh is due before then. */
  expiresAtMs?: number;
}

export async function credentialOf(options: { apiKey?: string; getToken?: TokenSource }): Promise<Credential> {
  if (options.apiKey !== undefined) return { fields: { method: "api_key", key: options.apiKey } };
  if (!options.getToken) throw new CommyError("INVALID_REQUEST", "no apiKey and no getToken");
  let result: TokenResult;
  try {
    result = await options.getToken();
  } catch (error) {
    throw new CommyError("UNAUTHORIZED", `getToken failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const token = typeof result === "string" ? result : result.token;
  if (typeof token !== "string" || token === "") {
    throw new CommyError("UNAUTHORIZED", "getToken returned no token");
  }
  const method = typeof result === "string" ? "jwt" : (result.method ?? "jwt");
  const expiresAtMs = typeof result === "string" ? jwtExpiryMs(token) : (result.expiresAtMs ?? jwtExpiryMs(token));
  const credential: Credential = { fields: { method, token } };
  if (expiresAtMs !== undefined) credential.expiresAtMs = expiresAtMs;
  return credential;
}

/** The `exp` claim of a JWT in milliseconds, or undefined if `token` is not a JWT with one. */
export function jwtExpiryMs(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** How long to wait before refreshing a token that expires at `expiresAtMs`: a quarter of its life early, at most a minute. */
export function refreshDelayMs(expiresAtMs: number, nowMs: number): number {
  const life = expiresAtMs - nowMs;
  return Math.max(500, life - Math.min(life / 4, 60_000));
}

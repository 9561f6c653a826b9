/**
 * The status page's login session: a cookie value that proves the admin token was typed into
 * the login form, without being the token. It is `v1.<expires>.<nonce>.<mac>`: the expiry in
 * epoch milliseconds, 16 random bytes, and HMAC-SHA-256 over the first three parts keyed with
 * the admin token (WebCrypto). Changing the token therefore ends every session; nothing is kept
 * on the server, so a restart does not.
 *
 * @example
 * ```ts
 * import { createSessionValue, verifySessionValue } from "@alpnmux/core/status-page";
 * const token = "s3cret-token-0123456789";
 * const value = await createSessionValue(token, { now: 0 });
 * await verifySessionValue(token, value, { now: 1000 }); // "valid"
 * await verifySessionValue("another-token-0123456789", value, { now: 1000 }); // "invalid"
 * ```
 *
 * @module status-page/session
 */

/** How long a login lasts unless told otherwise: 12 hours. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

/** The cookie's name. */
export const SESSION_COOKIE = "alpnmux_session";

/** What {@linkcode verifySessionValue} found. Closed union. */
export type SessionCheck = "valid" | "expired" | "invalid";

/** Options of {@linkcode createSessionValue} and {@linkcode verifySessionValue}. */
export interface SessionOptions {
  /** Epoch milliseconds; if absent, `Date.now()`. */
  readonly now?: number;
  /** Lifetime of a new session in milliseconds; if absent or 0, {@linkcode SESSION_TTL_MS}. */
  readonly ttlMs?: number;
  /** WebCrypto; if absent, `globalThis.crypto`. */
  readonly crypto?: Crypto;
}

const PREFIX = "v1";
const VALUE = /^v1\.(\d{1,16})\.([0-9a-f]{32})\.([0-9a-f]{64})$/;
/** Domain separation: this key signs nothing else. */
const CONTEXT = "alpnmux status page session\n";

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function unhex(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hmacKey(crypto: Crypto, token: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/**
 * Makes a new session value for the token (call it only after the token was checked).
 *
 * @param token The admin token.
 * @param options Clock, lifetime, WebCrypto.
 * @returns `v1.<expires>.<nonce>.<mac>`: cookie-safe characters only.
 * @example
 * ```ts
 * import { createSessionValue } from "@alpnmux/core/status-page";
 * (await createSessionValue("s3cret-token-0123456789")).startsWith("v1."); // true
 * ```
 */
export async function createSessionValue(token: string, options: SessionOptions = {}): Promise<string> {
  const crypto = options.crypto ?? globalThis.crypto;
  const expires = (options.now ?? Date.now()) + (options.ttlMs || SESSION_TTL_MS);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const body = `${PREFIX}.${expires}.${nonce}`;
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(crypto, token),
    new TextEncoder().encode(CONTEXT + body),
  );
  return `${body}.${hex(new Uint8Array(mac))}`;
}

/**
 * Checks a session value: its MAC (constant-time, `crypto.subtle.verify`), then its expiry.
 *
 * @param token The admin token.
 * @param value The cookie value, or undefined when there is none.
 * @param options Clock and WebCrypto.
 * @returns `valid`, `expired` (a genuine value past its time) or `invalid` (absent, malformed,
 *   tampered with, or made with another token).
 * @example
 * ```ts
 * import { verifySessionValue } from "@alpnmux/core/status-page";
 * await verifySessionValue("s3cret-token-0123456789", "v1.1.2.3"); // "invalid"
 * ```
 */
export async function verifySessionValue(
  token: string,
  value: string | undefined,
  options: SessionOptions = {},
): Promise<SessionCheck> {
  const m = value === undefined ? null : VALUE.exec(value);
  if (m === null) return "invalid";
  const crypto = options.crypto ?? globalThis.crypto;
  const body = `${PREFIX}.${m[1]}.${m[2]}`;
  const ok = await crypto.subtle.verify(
    "HMAC",
    await hmacKey(crypto, token),
    unhex(m[3] as string),
    new TextEncoder().encode(CONTEXT + body),
  );
  if (!ok) return "invalid";
  return Number(m[1]) > (options.now ?? Date.now()) ? "valid" : "expired";
}

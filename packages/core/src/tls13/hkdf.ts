/**
 * HKDF (RFC 5869) with SHA-256, and TLS 1.3's HKDF-Expand-Label and Derive-Secret
 * (RFC 8446, Section 7.1), built on WebCrypto HMAC. WebCrypto's own HKDF always runs Extract
 * and Expand together, while TLS 1.3 expands secrets that are already pseudorandom keys, so
 * both steps are done here with `crypto.subtle.sign("HMAC", ...)`.
 *
 * @example Derive the TLS 1.3 early secret (no PSK)
 * ```ts
 * import { hkdfExtract } from "./hkdf.ts";
 * const early = await hkdfExtract(crypto, new Uint8Array(32), new Uint8Array(32));
 * // 33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a (RFC 8448, Section 3)
 * ```
 *
 * @module tls13/hkdf
 */

import { concat, copy, u8, u16, vec8 } from "./wire.ts";

/** SHA-256 output length, the Hash.length of TLS_AES_128_GCM_SHA256. */
export const HASH_LENGTH = 32;

const utf8 = new TextEncoder();

/**
 * HMAC-SHA-256.
 *
 * @param crypto A WebCrypto implementation.
 * @param key The MAC key.
 * @param data The message.
 * @returns The 32-byte MAC.
 * @example
 * ```ts
 * const mac = await hmacSha256(crypto, new Uint8Array(32), new Uint8Array(0));
 * ```
 */
export async function hmacSha256(
  crypto: Crypto,
  key: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", copy(key), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, copy(data)));
}

/**
 * SHA-256 of some bytes.
 *
 * @param crypto A WebCrypto implementation.
 * @param data The bytes to hash.
 * @returns The 32-byte digest.
 * @example
 * ```ts
 * const transcriptHash = await sha256(crypto, new Uint8Array(0)); // e3b0c442…b855 (EMPTY_HASH)
 * ```
 */
export async function sha256(crypto: Crypto, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", copy(data)));
}

/**
 * HKDF-Extract (RFC 5869, Section 2.2): `HMAC(salt, ikm)`, an empty salt meaning 32 zero bytes.
 *
 * @param crypto A WebCrypto implementation.
 * @param salt The salt (may be empty).
 * @param ikm The input keying material.
 * @returns The 32-byte pseudorandom key.
 * @example
 * ```ts
 * const early = await hkdfExtract(crypto, new Uint8Array(32), new Uint8Array(32));
 * const derivedSecret = await deriveSecret(crypto, early, "derived", EMPTY_HASH);
 * const ecdheSharedSecret = new Uint8Array(32).fill(7); // from sharedSecret() in a handshake
 * const prk = await hkdfExtract(crypto, derivedSecret, ecdheSharedSecret); // the handshake secret
 * ```
 */
export function hkdfExtract(
  crypto: Crypto,
  salt: Uint8Array,
  ikm: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return hmacSha256(crypto, salt.length === 0 ? new Uint8Array(HASH_LENGTH) : salt, ikm);
}

/**
 * HKDF-Expand (RFC 5869, Section 2.3).
 *
 * @param crypto A WebCrypto implementation.
 * @param prk A pseudorandom key of at least 32 bytes.
 * @param info Context and application specific information.
 * @param length Output length, at most 255 * 32.
 * @returns `length` bytes of output keying material.
 * @throws {RangeError} When `length` is out of range.
 * @example
 * ```ts
 * const prk = await hkdfExtract(crypto, new Uint8Array(32), new Uint8Array(32));
 * const okm = await hkdfExpand(crypto, prk, new Uint8Array(0), 42);
 * ```
 */
export async function hkdfExpand(
  crypto: Crypto,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (length < 0 || length > 255 * HASH_LENGTH) {
    throw new RangeError(`Cannot expand HKDF output: length ${length} is out of range`);
  }
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = await hmacSha256(crypto, prk, concat(t, info, u8(i)));
    out.set(t.subarray(0, Math.min(t.length, length - at)), at);
    at += t.length;
  }
  return out;
}

/**
 * HKDF-Expand-Label (RFC 8446, Section 7.1): expands `secret` with the HkdfLabel structure
 * `uint16 length || opaque label<7..255> = "tls13 " + label || opaque context<0..255>`.
 *
 * @param crypto A WebCrypto implementation.
 * @param secret The secret to expand.
 * @param label The label without the `"tls13 "` prefix, e.g. `"key"`.
 * @param context The context (a transcript hash or empty).
 * @param length Output length.
 * @returns `length` bytes.
 * @example
 * ```ts
 * const serverHandshakeTrafficSecret = new Uint8Array(32).fill(1); // from the key schedule
 * const key = await hkdfExpandLabel(crypto, serverHandshakeTrafficSecret, "key", new Uint8Array(0), 16);
 * ```
 */
export function hkdfExpandLabel(
  crypto: Crypto,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const info = concat(u16(length), vec8(utf8.encode(`tls13 ${label}`)), vec8(context));
  return hkdfExpand(crypto, secret, info, length);
}

/**
 * Derive-Secret (RFC 8446, Section 7.1), taking the transcript hash instead of the messages:
 * `HKDF-Expand-Label(secret, label, transcriptHash, 32)`.
 *
 * @param crypto A WebCrypto implementation.
 * @param secret The secret.
 * @param label The label without the `"tls13 "` prefix, e.g. `"s hs traffic"`.
 * @param transcriptHash SHA-256 of the messages (use {@linkcode EMPTY_HASH} for none).
 * @returns A 32-byte secret.
 * @example
 * ```ts
 * const earlySecret = await hkdfExtract(crypto, new Uint8Array(32), new Uint8Array(32));
 * const derived = await deriveSecret(crypto, earlySecret, "derived", EMPTY_HASH);
 * ```
 */
export function deriveSecret(
  crypto: Crypto,
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return hkdfExpandLabel(crypto, secret, label, transcriptHash, HASH_LENGTH);
}

/** SHA-256 of the empty string, the transcript hash of no messages. */
export const EMPTY_HASH: Uint8Array<ArrayBuffer> = Uint8Array.from(
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".match(/../g) ?? [],
  (h) => Number.parseInt(h, 16),
);

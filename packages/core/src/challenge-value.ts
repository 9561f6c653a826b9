/**
 * What an ACME client hands over for a TLS-ALPN-01 challenge, in the three forms clients use:
 *
 * | form | example | who passes it |
 * |---|---|---|
 * | key authorization `token.thumbprint` | `evaGx…oA.nP1q…rQ` | lego, acme.sh, acme-client |
 * | base64url SHA-256 digest, 43 characters | `sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y` | uacme (hook AUTH), ualpn |
 * | hex SHA-256 digest, 32 pairs with colons (or 64 digits) | `b1:80:30:…:a3:96` | dehydrated (hook VALUE) |
 *
 * All three name the same certificate: RFC 8737, Section 3 puts SHA-256(key authorization) in
 * the acmeIdentifier extension. {@linkcode parseChallengeValue} tells them apart (a key
 * authorization always holds a `.`, which neither digest does) and gives the form the
 * challenge stores keep: a key authorization unchanged (so records stay what older versions
 * wrote and read), a digest as its 43-character base64url text. {@linkcode storedDigest}
 * reads that form back.
 *
 * @example
 * ```ts
 * import { parseChallengeValue } from "@alpnmux/core/challenge";
 * parseChallengeValue("tok.thumb").format; // "key-authorization"
 * parseChallengeValue("b1:80:30:56:ba:83:b5:53:ae:25:9b:c0:1e:ea:d2:01:83:e8:12:de:5f:15:5f:c2:e1:b7:52:38:e5:be:a3:96").stored;
 * // "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y" (the same digest as SHA-256("tok.thumb"))
 * ```
 *
 * @module challenge-value
 */

/** The three forms {@linkcode parseChallengeValue} accepts. */
export type ChallengeValueFormat = "key-authorization" | "digest-base64url" | "digest-hex";

/** A checked challenge value. */
export interface ChallengeValue {
  /** Which form it was given in. */
  readonly format: ChallengeValueFormat;
  /**
   * What a challenge store keeps: the key authorization as given, or the SHA-256 digest as
   * unpadded base64url (43 characters).
   */
  readonly stored: string;
}

/**
 * A value that is none of the three forms.
 *
 * @example
 * ```ts
 * import { ChallengeValueError, parseChallengeValue } from "@alpnmux/core/challenge";
 * try { parseChallengeValue("no-dot"); }
 * catch (e) { if (e instanceof ChallengeValueError) console.log(e.code); } // "invalid-challenge-value"
 * ```
 */
export class ChallengeValueError extends TypeError {
  /** Stable code. */
  readonly code = "invalid-challenge-value" as const;
  /** @param reason Why the value was refused. */
  constructor(reason: string) {
    super(`Invalid challenge value: ${reason}`);
    this.name = "ChallengeValueError";
  }
}

/** Longest key authorization accepted (a token plus a 43-character thumbprint is ~90). */
export const MAX_KEY_AUTHORIZATION_LENGTH = 1024;

/** `token || "." || base64url(thumbprint)`, both base64url (RFC 8555, Section 8.1). */
export const KEY_AUTHORIZATION_PATTERN: RegExp = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BASE64URL_DIGEST = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const BASE64URL_ALMOST = /^[A-Za-z0-9_-]{43}$/;
const HEX_COLONS = /^[0-9a-f]{2}(?::[0-9a-f]{2}){31}$/i;
const HEX_PLAIN = /^[0-9a-f]{64}$/i;
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** What the error messages list. */
const FORMS =
  'expected a key authorization "token.thumbprint" (lego, acme.sh), a base64url SHA-256 digest ' +
  "of 43 characters (uacme) or a hex SHA-256 digest of 32 colon-separated pairs (dehydrated)";

/**
 * Encodes bytes as unpadded base64url (RFC 4648, Section 5).
 *
 * @param bytes Any bytes.
 * @returns The text, without `=`.
 * @example
 * ```ts
 * import { encodeBase64Url } from "@alpnmux/core/challenge";
 * encodeBase64Url(new Uint8Array([0xfb, 0xff])); // "-_8"
 * ```
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64URL[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** Decodes 43 base64url characters already matched by BASE64URL_DIGEST. */
function decodeDigest43(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(32);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of text) {
    acc = ((acc << 6) | B64URL.indexOf(ch)) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Checks a challenge value and tells its form: a key authorization, a base64url SHA-256
 * digest (43 characters, the last one encoding zero padding bits, as libsodium and ualpn
 * require), or a hex SHA-256 digest (32 pairs separated by colons, as `openssl dgst -c` prints
 * it for dehydrated, or 64 digits as `sha256sum` prints it; either case).
 *
 * @param value The value as given (surrounding spaces are not trimmed).
 * @returns The form and the text a challenge store keeps.
 * @throws {ChallengeValueError} For anything else, naming the three forms.
 * @example
 * ```ts
 * import { parseChallengeValue } from "@alpnmux/core/challenge";
 * parseChallengeValue("sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y");
 * // { format: "digest-base64url", stored: "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y" }
 * ```
 */
export function parseChallengeValue(value: unknown): ChallengeValue {
  if (typeof value !== "string") throw new ChallengeValueError(`${FORMS}; got ${typeName(value)}`);
  if (value === "") throw new ChallengeValueError(`it is empty; ${FORMS}`);
  if (KEY_AUTHORIZATION_PATTERN.test(value)) {
    if (value.length > MAX_KEY_AUTHORIZATION_LENGTH) {
      throw new ChallengeValueError(
        `a key authorization of ${value.length} characters, more than ${MAX_KEY_AUTHORIZATION_LENGTH}`,
      );
    }
    return { format: "key-authorization", stored: value };
  }
  if (BASE64URL_DIGEST.test(value)) return { format: "digest-base64url", stored: value };
  if (HEX_COLONS.test(value) || HEX_PLAIN.test(value)) {
    return { format: "digest-hex", stored: encodeBase64Url(hexBytes(value.replaceAll(":", ""))) };
  }
  const shown =
    value.length > 80
      ? `${JSON.stringify(value.slice(0, 80))}… (${value.length} characters)`
      : JSON.stringify(value);
  if (BASE64URL_ALMOST.test(value)) {
    throw new ChallengeValueError(
      `${shown} is not canonical base64url: its last character encodes non-zero padding bits`,
    );
  }
  throw new ChallengeValueError(`${shown}: ${FORMS}`);
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;
}

/**
 * The digest held by a stored challenge value, or `null` when it holds a key authorization
 * (which the certificate builder hashes itself). Stored digests are the 43-character base64url
 * text {@linkcode parseChallengeValue} makes; anything else is a key authorization.
 *
 * @param stored A value as a challenge store keeps it.
 * @returns 32 bytes, or `null`.
 * @example
 * ```ts
 * import { storedDigest } from "@alpnmux/core/challenge";
 * storedDigest("tok.thumb"); // null
 * storedDigest("sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y")?.length; // 32
 * ```
 */
export function storedDigest(stored: string): Uint8Array<ArrayBuffer> | null {
  return BASE64URL_DIGEST.test(stored) ? decodeDigest43(stored) : null;
}

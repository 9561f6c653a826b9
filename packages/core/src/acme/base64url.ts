/**
 * Base64url without padding (RFC 4648, Section 5), as JWS (RFC 7515, Section 2) and ACME use it,
 * plus the PEM armour for DER blobs.
 *
 * @example
 * ```ts
 * import { decodeBase64Url, encodeBase64Url } from "@alpnmux/core/acme";
 * encodeBase64Url(new Uint8Array([0xfb, 0xff])); // "-_8"
 * decodeBase64Url("-_8"); // Uint8Array [0xfb, 0xff]
 * ```
 *
 * @module acme/base64url
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUES = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

/**
 * Encodes bytes as base64url without padding.
 *
 * @param bytes The bytes.
 * @returns The text.
 * @example
 * ```ts
 * import { encodeBase64Url } from "@alpnmux/core/acme";
 * encodeBase64Url(new TextEncoder().encode("{}")); // "e30"
 * ```
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += ALPHABET[a >> 2];
    out += ALPHABET[((a & 3) << 4) | ((b ?? 0) >> 4)];
    if (b !== undefined) out += ALPHABET[((b & 15) << 2) | ((c ?? 0) >> 6)];
    if (c !== undefined) out += ALPHABET[c & 63];
  }
  return out;
}

/**
 * Decodes base64url text (padding `=` tolerated at the end).
 *
 * @param text The text.
 * @returns The bytes.
 * @throws {TypeError} For a character outside the base64url alphabet or an impossible length.
 * @example
 * ```ts
 * import { decodeBase64Url } from "@alpnmux/core/acme";
 * decodeBase64Url("e30"); // Uint8Array [0x7b, 0x7d]
 * ```
 */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const s = text.replace(/=+$/, "");
  if (s.length % 4 === 1) throw new TypeError(`Cannot decode base64url: length ${s.length} is impossible`);
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = VALUES.get(s[i] as string);
    if (v === undefined) {
      throw new TypeError(`Cannot decode base64url: character ${JSON.stringify(s[i])} at ${i}`);
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * Wraps DER bytes in PEM armour (64-character lines).
 *
 * @param label The label, e.g. `PRIVATE KEY` or `CERTIFICATE`.
 * @param der The DER bytes.
 * @returns `-----BEGIN label-----` … `-----END label-----` with a final newline.
 * @example
 * ```ts
 * import { derToPem } from "@alpnmux/core/acme";
 * derToPem("CERTIFICATE", new Uint8Array([1, 2, 3])); // "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n"
 * ```
 */
export function derToPem(label: string, der: Uint8Array): string {
  const b64 = encodeBase64Url(der).replaceAll("-", "+").replaceAll("_", "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const lines = padded.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * The DER bytes of the first PEM block with `label`.
 *
 * @param label The label, e.g. `PRIVATE KEY`.
 * @param pem PEM text.
 * @returns The bytes.
 * @throws {TypeError} When there is no such block or its base64 is broken.
 * @example
 * ```ts
 * import { pemToDer } from "@alpnmux/core/acme";
 * pemToDer("CERTIFICATE", "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n"); // Uint8Array [1, 2, 3]
 * ```
 */
export function pemToDer(label: string, pem: string): Uint8Array<ArrayBuffer> {
  const re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`);
  const m = re.exec(pem);
  if (m === null) throw new TypeError(`Cannot parse PEM: no "${label}" block`);
  const body = (m[1] as string).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new TypeError(`Cannot parse PEM: "${label}" is not base64`);
  return decodeBase64Url(body.replaceAll("+", "-").replaceAll("/", "_"));
}

/**
 * Wire constants for TLS as the sniffer and the challenge responder use them.
 *
 * @module constants
 */

/** TLS record content types (RFC 8446, Section 5.1). */
export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;

/** TLS handshake message types (RFC 8446, Section 4). */
export const HandshakeType = {
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  endOfEarlyData: 5,
  encryptedExtensions: 8,
  certificate: 11,
  certificateRequest: 13,
  certificateVerify: 15,
  finished: 20,
  keyUpdate: 24,
  messageHash: 254,
} as const;

/** TLS extension code points this project reads or writes. */
export const ExtensionType = {
  serverName: 0,
  supportedGroups: 10,
  signatureAlgorithms: 13,
  alpn: 16,
  preSharedKey: 41,
  earlyData: 42,
  supportedVersions: 43,
  cookie: 44,
  pskKeyExchangeModes: 45,
  keyShare: 51,
  encryptedClientHello: 0xfe0d,
} as const;

/** Named groups (RFC 8446, Section 4.2.7; draft-kwiatkowski-tls-ecdhe-mlkem). */
export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  x25519: 0x001d,
  x25519MLKEM768: 0x11ec,
} as const;

/** Protocol versions on the wire. */
export const ProtocolVersion = {
  tls10: 0x0301,
  tls11: 0x0302,
  tls12: 0x0303,
  tls13: 0x0304,
} as const;

/** The ALPN protocol id of RFC 8737 (TLS-ALPN-01). */
export const ACME_TLS_ALPN = "acme-tls/1";

/** Largest TLSPlaintext fragment (RFC 8446, Section 5.1): 2^14 bytes. */
export const MAX_PLAINTEXT = 16384;

/**
 * Default cap on the bytes read while sniffing a hello, record headers included (caddy-l4
 * MaxMatchingBytes). It also bounds the records a hello may span: each costs at least 6 bytes
 * (a 5-byte header and a non-empty fragment), so at most 2730 fit.
 */
export const DEFAULT_MAX_HELLO_BYTES = 16384;

/**
 * Whether a 16-bit value is a GREASE value (RFC 8701): 0x?A?A with both bytes equal.
 *
 * @param v A cipher suite, extension type, group, version or similar code point.
 * @returns true for the 16 reserved GREASE values.
 * @example
 * ```ts
 * import { isGrease } from "@alpnmux/core";
 * isGrease(0x1a1a); // true
 * isGrease(0x0017); // false
 * ```
 */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

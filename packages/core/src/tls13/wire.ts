/**
 * Small big-endian writers for building TLS 1.3 messages: fixed-width integers and
 * length-prefixed vectors (RFC 8446, Section 3.4). Concatenation is `concat` from `../bytes.ts`.
 *
 * @example Build an ALPN extension body
 * ```ts
 * import { vec8, vec16 } from "./wire.ts";
 * const body = vec16(vec8(new TextEncoder().encode("acme-tls/1")));
 * ```
 *
 * @module tls13/wire
 */

import { concat } from "../bytes.ts";

/**
 * Re-exported for the modules that still import it from here; new code imports `concat` from
 * `../bytes.ts`, its one definition.
 */
export { concat };

/**
 * Encodes a uint8.
 *
 * @param v 0-255.
 * @returns One byte.
 * @example
 * ```ts
 * u8(1); // Uint8Array [1]
 * ```
 */
export function u8(v: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(v & 0xff);
}

/**
 * Encodes a big-endian uint16.
 *
 * @param v 0-65535.
 * @returns Two bytes.
 * @example
 * ```ts
 * u16(0x0304); // Uint8Array [3, 4]
 * ```
 */
export function u16(v: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

/**
 * Encodes a big-endian uint24.
 *
 * @param v 0-16777215.
 * @returns Three bytes.
 * @example
 * ```ts
 * u24(0x0101); // Uint8Array [0, 1, 1]
 * ```
 */
export function u24(v: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

/**
 * Prefixes bytes with their uint8 length (`opaque x<0..2^8-1>`).
 *
 * @param b At most 255 bytes.
 * @returns The length byte followed by `b`.
 * @throws {RangeError} When `b` is longer than 255 bytes.
 * @example
 * ```ts
 * vec8(new Uint8Array([9])); // Uint8Array [1, 9]
 * ```
 */
export function vec8(b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (b.length > 0xff) throw new RangeError(`Cannot encode vector: ${b.length} bytes > 255`);
  return concat(u8(b.length), b);
}

/**
 * Prefixes bytes with their uint16 length (`opaque x<0..2^16-1>`).
 *
 * @param b At most 65535 bytes.
 * @returns The 2-byte length followed by `b`.
 * @throws {RangeError} When `b` is longer than 65535 bytes.
 * @example
 * ```ts
 * vec16(new Uint8Array([9])); // Uint8Array [0, 1, 9]
 * ```
 */
export function vec16(b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (b.length > 0xffff) throw new RangeError(`Cannot encode vector: ${b.length} bytes > 65535`);
  return concat(u16(b.length), b);
}

/**
 * Prefixes bytes with their uint24 length (`opaque x<0..2^24-1>`).
 *
 * @param b At most 2^24-1 bytes.
 * @returns The 3-byte length followed by `b`.
 * @throws {RangeError} When `b` is longer than 2^24-1 bytes.
 * @example
 * ```ts
 * vec24(new Uint8Array([9])); // Uint8Array [0, 0, 1, 9]
 * ```
 */
export function vec24(b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (b.length > 0xffffff) throw new RangeError(`Cannot encode vector: ${b.length} bytes`);
  return concat(u24(b.length), b);
}

/**
 * Compares two byte arrays without an early exit on the first difference (for MACs).
 *
 * @param a First array.
 * @param b Second array.
 * @returns `true` when both have the same length and bytes.
 * @example
 * ```ts
 * bytesEqual(new Uint8Array([1]), new Uint8Array([1])); // true
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/**
 * Copies a view into a fresh `Uint8Array<ArrayBuffer>` (what WebCrypto's `BufferSource` wants).
 *
 * @param b Any byte view.
 * @returns A copy backed by its own `ArrayBuffer`.
 * @example
 * ```ts
 * const own = copy(new Uint8Array(8).subarray(2, 4)); // 2 bytes, own buffer
 * ```
 */
export function copy(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/**
 * PROXY protocol headers (HAProxy, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt):
 * a version 1 (text) and a version 2 (binary, with TLVs) encoder. (The strict decoder the tests
 * use lives in `testing/proxy-protocol-decoder.ts`, outside the published source.)
 *
 * Address families: when both ends are IPv4 (or IPv4-mapped IPv6, `::ffff:a.b.c.d`, as dual-stack
 * sockets report them) the header says TCP over IPv4. When one end is IPv4 and the other IPv6,
 * version 2 maps the IPv4 end to `::ffff:a.b.c.d` and says TCP over IPv6; version 1 sends
 * `PROXY UNKNOWN` (the receiver then uses the real connection's addresses). A zone index
 * (`fe80::1%eth0`) is dropped: the protocol has no field for it.
 *
 * ALPN TLV: the router passes bytes through without terminating TLS, so it cannot know the
 * protocol the server will choose. Callers send the first (for ACME validators: the only) entry
 * of the client's offered list.
 *
 * @example Prepend a version 2 header with the peeked SNI
 * ```ts
 * import { encodeProxyV2 } from "@alpnmux/core";
 * const header = encodeProxyV2({
 *   source: { address: "203.0.113.7", port: 51234 },
 *   destination: { address: "192.0.2.1", port: 443 },
 *   tlvs: { authority: "a.example.com", alpn: "h2" },
 * });
 * // upstream.write(header); upstream.write(peekedHello);
 * ```
 *
 * @module proxy-protocol
 */

import { formatIp, isIpv4Mapped, parseIp, parseIpInto, toIpv6 } from "./ip.ts";

/** Why a PROXY header cannot be built. */
export type ProxyProtocolErrorCode =
  | "bad-address"
  | "bad-port"
  | "bad-tlv"
  | "tlv-too-long"
  | "header-too-long";

/**
 * A PROXY header that cannot be encoded (bad input).
 *
 * @example
 * ```ts
 * import { encodeProxyV1, ProxyProtocolError } from "@alpnmux/core";
 * try {
 *   encodeProxyV1({ source: { address: "1.2.3.4", port: 70000 }, destination: { address: "1.2.3.5", port: 443 } });
 * } catch (e) {
 *   if (e instanceof ProxyProtocolError) console.log(e.code); // "bad-port"
 * }
 * ```
 */
export class ProxyProtocolError extends Error {
  /** What is wrong, as a stable machine-readable code. */
  readonly code: ProxyProtocolErrorCode;
  /**
   * @param code The stable error code.
   * @param message The full message, e.g. `Cannot encode PROXY header: port 70000 is out of range`.
   */
  constructor(code: ProxyProtocolErrorCode, message: string) {
    super(message);
    this.name = "ProxyProtocolError";
    this.code = code;
  }
}

/** PP2_TYPE_* code points (spec section 2.2). */
export const ProxyTlvType = {
  alpn: 0x01,
  authority: 0x02,
  crc32c: 0x03,
  noop: 0x04,
  uniqueId: 0x05,
  ssl: 0x20,
  netns: 0x30,
} as const;

/** One end of the proxied connection. */
export interface ProxyEndpoint {
  /** IPv4 or IPv6 literal; `::ffff:a.b.c.d` counts as IPv4. */
  readonly address: string;
  /** TCP port, 0-65535. */
  readonly port: number;
}

/** The client (source) and the address it connected to (destination). */
export interface ProxyAddresses {
  readonly source: ProxyEndpoint;
  readonly destination: ProxyEndpoint;
}

/** A raw TLV: type 0-255, value up to 65535 bytes. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

/** TLVs for a version 2 header, written in the order of the fields below. */
export interface ProxyV2Tlvs {
  /** PP2_TYPE_ALPN: one protocol name (UTF-8 when a string). If absent, none is sent. */
  readonly alpn?: string | Uint8Array;
  /** PP2_TYPE_AUTHORITY: the SNI host name (UTF-8). If absent, none is sent. */
  readonly authority?: string;
  /** PP2_TYPE_UNIQUE_ID: up to 128 opaque bytes. If absent, none is sent. */
  readonly uniqueId?: Uint8Array;
  /** PP2_TYPE_NETNS: network namespace name. If absent, none is sent. */
  readonly netns?: string;
  /** PP2_TYPE_CRC32C: if `true`, a checksum of the whole header is added. Default `false`. */
  readonly crc32c?: boolean;
  /** Any other TLVs, written last as given. */
  readonly extra?: readonly ProxyTlv[];
}

/** Input of {@linkcode encodeProxyV2}. */
export interface ProxyV2Options {
  /** Client address; with `destination`. If both are absent the family is AF_UNSPEC. */
  readonly source?: ProxyEndpoint;
  /** Address the client connected to. */
  readonly destination?: ProxyEndpoint;
  /** TLVs to append. If absent, none. */
  readonly tlvs?: ProxyV2Tlvs;
  /** `"proxy"` (default) relays `source`/`destination`; `"local"` sends no addresses (health checks). */
  readonly command?: "proxy" | "local";
}

const SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const utf8 = new TextEncoder();

function encodeError(code: ProxyProtocolErrorCode, reason: string): ProxyProtocolError {
  return new ProxyProtocolError(code, `Cannot encode PROXY header: ${reason}`);
}

function resolve(ep: ProxyEndpoint, which: string): { bytes: Uint8Array; port: number } {
  const pct = ep.address.indexOf("%");
  const text = pct === -1 ? ep.address : ep.address.slice(0, pct);
  const ip = parseIp(text);
  if (ip === null || (pct !== -1 && ip.family !== 6)) {
    throw encodeError("bad-address", `${which} address ${JSON.stringify(ep.address)} is not an IP address`);
  }
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) {
    throw encodeError("bad-port", `${which} port ${ep.port} is out of range 0-65535`);
  }
  const bytes = isIpv4Mapped(ip.bytes) ? ip.bytes.subarray(12) : ip.bytes;
  return { bytes, port: ep.port };
}

/** Resolves both ends to one family: 4-byte pairs, or 16-byte pairs (v4 mapped) when mixed. */
function resolvePair(a: ProxyAddresses) {
  const src = resolve(a.source, "source");
  const dst = resolve(a.destination, "destination");
  const mixed = src.bytes.length !== dst.bytes.length;
  if (mixed) {
    src.bytes = toIpv6(src.bytes);
    dst.bytes = toIpv6(dst.bytes);
  }
  return { src, dst, mixed, family: src.bytes.length === 4 ? (4 as const) : (6 as const) };
}

/**
 * Encodes a version 1 (text) header: `PROXY TCP4 src dst sport dport\r\n`, `PROXY TCP6 …`, or
 * `PROXY UNKNOWN\r\n` when `addresses` is absent or the two ends have different families.
 *
 * @param addresses Source and destination; if absent, the family is unknown.
 * @returns The ASCII header bytes (at most 104 bytes).
 * @throws {ProxyProtocolError} `bad-address` or `bad-port` for invalid endpoints.
 *
 * @example
 * ```ts
 * import { encodeProxyV1 } from "@alpnmux/core";
 * const line = encodeProxyV1({
 *   source: { address: "192.168.0.1", port: 56324 },
 *   destination: { address: "192.168.0.11", port: 443 },
 * });
 * new TextDecoder().decode(line); // "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
 * ```
 */
export function encodeProxyV1(addresses?: ProxyAddresses): Uint8Array {
  if (addresses === undefined) return utf8.encode("PROXY UNKNOWN\r\n");
  const { src, dst, mixed, family } = resolvePair(addresses);
  if (mixed) return utf8.encode("PROXY UNKNOWN\r\n");
  const line = `PROXY TCP${family} ${formatIp(src.bytes)} ${formatIp(dst.bytes)} ${src.port} ${dst.port}\r\n`;
  return utf8.encode(line);
}

/**
 * Writes `ep`'s address into `out` (4 bytes for IPv4 and IPv4-mapped, else 16) and checks its
 * port; the same checks and messages as {@linkcode resolve}, without allocating for IPv4.
 */
function resolveInto(ep: ProxyEndpoint, which: string, out: Uint8Array): 4 | 16 {
  const address = ep.address;
  const pct = address.indexOf("%");
  const n = pct === -1 ? parseIpInto(address, out) : zoned(address, pct, out);
  if (n === 0) {
    throw encodeError("bad-address", `${which} address ${JSON.stringify(address)} is not an IP address`);
  }
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 65535) {
    throw encodeError("bad-port", `${which} port ${ep.port} is out of range 0-65535`);
  }
  return n;
}

/** An IPv6 literal with a zone index (dropped); 0 for anything else. */
function zoned(address: string, pct: number, out: Uint8Array): 0 | 4 | 16 {
  const text = address.slice(0, pct);
  return text.indexOf(":") === -1 ? 0 : parseIpInto(text, out);
}

/** Maps 4 bytes at `b[0..4)` to `::ffff:a.b.c.d` in place. */
function mapInPlace(b: Uint8Array): void {
  b.copyWithin(12, 0, 4);
  b.fill(0, 0, 10);
  b[10] = 0xff;
  b[11] = 0xff;
}

/** Scratch address bytes of the encoder (synchronous, so shared by every call). */
const SRC = new Uint8Array(16);
const DST = new Uint8Array(16);

/**
 * The bytes of a TLV value: its length when `s` is all ASCII (host names and ALPN ids are), so
 * nothing is encoded twice; otherwise its UTF-8 form.
 */
function tlvValue(v: string | Uint8Array): number | Uint8Array {
  if (typeof v !== "string") return v;
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return utf8.encode(v);
  return v.length;
}

function tlvLength(v: number | Uint8Array): number {
  return typeof v === "number" ? v : v.length;
}

function checkTlv(type: number, name: string, length: number, max = 65535): void {
  if (!Number.isInteger(type) || type < 0 || type > 255)
    throw encodeError("bad-tlv", `TLV type ${type} is not a byte`);
  if (length > max) throw encodeError("tlv-too-long", `${name} TLV is ${length} bytes, more than ${max}`);
}

/** Writes one TLV at `at`; `text` is the ASCII string when `v` is its length. Returns the next index. */
function writeTlv(
  out: Uint8Array,
  at: number,
  type: number,
  v: number | Uint8Array,
  text: string | Uint8Array,
): number {
  const n = tlvLength(v);
  out[at] = type;
  out[at + 1] = n >> 8;
  out[at + 2] = n & 0xff;
  if (typeof v === "number") {
    const s = text as string;
    for (let i = 0; i < n; i++) out[at + 3 + i] = s.charCodeAt(i);
  } else out.set(v, at + 3);
  return at + 3 + n;
}

/**
 * Encodes a version 2 (binary) header: the 12-byte signature, version/command, family/transport
 * (`0x11` TCP over IPv4, `0x21` TCP over IPv6, `0x00` unspecified), the length, the address block
 * and the TLVs.
 *
 * @param options Addresses, TLVs and command; see {@linkcode ProxyV2Options}.
 * @returns The header bytes.
 * @throws {ProxyProtocolError} `bad-address`, `bad-port`, `bad-tlv`, `tlv-too-long`, or
 * `header-too-long` (more than 65535 bytes after the first 16).
 *
 * @example
 * ```ts
 * import { encodeProxyV2 } from "@alpnmux/core";
 * const h = encodeProxyV2({
 *   source: { address: "10.0.0.1", port: 1234 },
 *   destination: { address: "10.0.0.2", port: 443 },
 * });
 * h.length; // 28 (16 + 12): h[12] === 0x21, h[13] === 0x11
 * ```
 */
export function encodeProxyV2(options: ProxyV2Options = {}): Uint8Array {
  const local = options.command === "local";
  const { source, destination } = options;
  if ((source === undefined) !== (destination === undefined)) {
    throw encodeError("bad-address", "source and destination must be given together");
  }
  // Addresses: parsed into the scratch arrays, one family for both ends (mixed: v4 mapped).
  let family: 0 | 4 | 6 = 0;
  if (!local && source !== undefined && destination !== undefined) {
    const s = resolveInto(source, "source", SRC);
    const d = resolveInto(destination, "destination", DST);
    if (s !== d) mapInPlace(s === 4 ? SRC : DST);
    family = s === 4 && d === 4 ? 4 : 6;
  }
  // TLVs, checked in the order they are written (the order of ProxyV2Tlvs' fields).
  const t = options.tlvs;
  let alpn: number | Uint8Array | undefined;
  let authority: number | Uint8Array | undefined;
  let netns: number | Uint8Array | undefined;
  const crc = t?.crc32c === true;
  const addrLen = family === 0 ? 0 : family === 4 ? 12 : 36;
  let len = addrLen;
  if (t !== undefined) {
    if (t.alpn !== undefined && t.alpn.length === 0) throw encodeError("bad-tlv", "alpn TLV is empty");
    if (t.authority !== undefined && t.authority.length === 0)
      throw encodeError("bad-tlv", "authority TLV is empty");
    if (t.netns !== undefined && t.netns.length === 0) throw encodeError("bad-tlv", "netns TLV is empty");
    if (t.alpn !== undefined) {
      alpn = tlvValue(t.alpn);
      checkTlv(ProxyTlvType.alpn, "ALPN", tlvLength(alpn));
      len += 3 + tlvLength(alpn);
    }
    if (t.authority !== undefined) {
      authority = tlvValue(t.authority);
      checkTlv(ProxyTlvType.authority, "authority", tlvLength(authority));
      len += 3 + tlvLength(authority);
    }
    if (crc) len += 7;
    if (t.uniqueId !== undefined) {
      checkTlv(ProxyTlvType.uniqueId, "unique ID", t.uniqueId.length, 128); // spec section 2.2.5
      len += 3 + t.uniqueId.length;
    }
    if (t.netns !== undefined) {
      netns = tlvValue(t.netns);
      checkTlv(ProxyTlvType.netns, "netns", tlvLength(netns));
      len += 3 + tlvLength(netns);
    }
    if (t.extra !== undefined) {
      for (const x of t.extra) {
        checkTlv(x.type, `type ${x.type}`, x.value.length);
        len += 3 + x.value.length;
      }
    }
  }
  if (len > 65535) throw encodeError("header-too-long", `${len} bytes after the fixed part, more than 65535`);
  // One exactly-sized array, written front to back.
  const out = new Uint8Array(16 + len);
  out.set(SIGNATURE, 0);
  out[12] = local ? 0x20 : 0x21; // version 2, command LOCAL (0) or PROXY (1)
  out[13] = family === 0 ? 0x00 : family === 4 ? 0x11 : 0x21; // AF_INET(6) << 4 | STREAM
  out[14] = len >> 8;
  out[15] = len & 0xff;
  let at = 16;
  if (family !== 0) {
    const n = family === 4 ? 4 : 16;
    for (let i = 0; i < n; i++) {
      out[at + i] = SRC[i] as number;
      out[at + n + i] = DST[i] as number;
    }
    const sp = (source as ProxyEndpoint).port;
    const dp = (destination as ProxyEndpoint).port;
    out[at + 2 * n] = sp >> 8;
    out[at + 2 * n + 1] = sp & 0xff;
    out[at + 2 * n + 2] = dp >> 8;
    out[at + 2 * n + 3] = dp & 0xff;
    at += addrLen;
  }
  let crcAt = -1;
  if (t !== undefined) {
    if (alpn !== undefined) at = writeTlv(out, at, ProxyTlvType.alpn, alpn, t.alpn as string | Uint8Array);
    if (authority !== undefined)
      at = writeTlv(out, at, ProxyTlvType.authority, authority, t.authority as string);
    if (crc) {
      crcAt = at + 3;
      at = writeTlv(out, at, ProxyTlvType.crc32c, CRC_ZERO, CRC_ZERO);
    }
    if (t.uniqueId !== undefined) at = writeTlv(out, at, ProxyTlvType.uniqueId, t.uniqueId, t.uniqueId);
    if (netns !== undefined) at = writeTlv(out, at, ProxyTlvType.netns, netns, t.netns as string);
    if (t.extra !== undefined) for (const x of t.extra) at = writeTlv(out, at, x.type, x.value, x.value);
  }
  if (crcAt !== -1) {
    // Spec 2.2.3: computed over the whole header with the field zeroed.
    const c = crc32c(out);
    out[crcAt] = c >>> 24;
    out[crcAt + 1] = (c >>> 16) & 0xff;
    out[crcAt + 2] = (c >>> 8) & 0xff;
    out[crcAt + 3] = c & 0xff;
  }
  return out;
}

const CRC_ZERO = new Uint8Array(4);

let crcTable: Uint32Array | undefined;

/**
 * CRC32c (Castagnoli, RFC 4960 Appendix B) of `bytes`, as used by PP2_TYPE_CRC32C.
 *
 * @param bytes Input bytes.
 * @returns The checksum as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import { crc32c } from "@alpnmux/core";
 * crc32c(new TextEncoder().encode("123456789")); // 0xe3069283
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = (crcTable[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

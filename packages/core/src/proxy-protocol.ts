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

import { formatIp, isIpv4Mapped, parseIp, toIpv6 } from "./ip.ts";

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

function tlvBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === "string" ? utf8.encode(value) : value;
}

function collectTlvs(t: ProxyV2Tlvs | undefined): ProxyTlv[] {
  const out: ProxyTlv[] = [];
  if (t === undefined) return out;
  const add = (type: number, name: string, value: Uint8Array | undefined, max = 65535) => {
    if (value === undefined) return;
    if (!Number.isInteger(type) || type < 0 || type > 255)
      throw encodeError("bad-tlv", `TLV type ${type} is not a byte`);
    if (value.length > max)
      throw encodeError("tlv-too-long", `${name} TLV is ${value.length} bytes, more than ${max}`);
    out.push({ type, value });
  };
  for (const [name, v] of [
    ["alpn", t.alpn],
    ["authority", t.authority],
    ["netns", t.netns],
  ] as const) {
    if (v !== undefined && v.length === 0) throw encodeError("bad-tlv", `${name} TLV is empty`);
  }
  add(ProxyTlvType.alpn, "ALPN", t.alpn === undefined ? undefined : tlvBytes(t.alpn));
  add(ProxyTlvType.authority, "authority", t.authority === undefined ? undefined : tlvBytes(t.authority));
  if (t.crc32c === true) add(ProxyTlvType.crc32c, "CRC32C", new Uint8Array(4));
  add(ProxyTlvType.uniqueId, "unique ID", t.uniqueId, 128); // spec section 2.2.5
  add(ProxyTlvType.netns, "netns", t.netns === undefined ? undefined : tlvBytes(t.netns));
  for (const x of t.extra ?? []) add(x.type, `type ${x.type}`, x.value);
  return out;
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
  const pair =
    local || source === undefined || destination === undefined ? null : resolvePair({ source, destination });
  const tlvs = collectTlvs(options.tlvs);
  const addrLen = pair === null ? 0 : pair.family === 4 ? 12 : 36;
  let len = addrLen;
  for (const t of tlvs) len += 3 + t.value.length;
  if (len > 65535) throw encodeError("header-too-long", `${len} bytes after the fixed part, more than 65535`);
  const out = new Uint8Array(16 + len);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  out[12] = local ? 0x20 : 0x21; // version 2, command LOCAL (0) or PROXY (1)
  out[13] = pair === null ? 0x00 : pair.family === 4 ? 0x11 : 0x21; // AF_INET(6) << 4 | STREAM
  view.setUint16(14, len);
  let at = 16;
  if (pair !== null) {
    const n = pair.src.bytes.length;
    out.set(pair.src.bytes, at);
    out.set(pair.dst.bytes, at + n);
    view.setUint16(at + 2 * n, pair.src.port);
    view.setUint16(at + 2 * n + 2, pair.dst.port);
    at += addrLen;
  }
  let crcAt = -1;
  for (const t of tlvs) {
    out[at] = t.type;
    view.setUint16(at + 1, t.value.length);
    out.set(t.value, at + 3);
    if (t.type === ProxyTlvType.crc32c && crcAt === -1 && options.tlvs?.crc32c === true) crcAt = at + 3;
    at += 3 + t.value.length;
  }
  if (crcAt !== -1) view.setUint32(crcAt, crc32c(out)); // spec 2.2.3: computed with the field zeroed
  return out;
}

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

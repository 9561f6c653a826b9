/**
 * PROXY protocol headers (HAProxy, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt):
 * a version 1 (text) and version 2 (binary, with TLVs) encoder, and a strict decoder for tests and
 * test backends.
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

/** Why a PROXY header cannot be built or parsed. */
export type ProxyProtocolErrorCode =
  | "bad-address"
  | "bad-port"
  | "bad-tlv"
  | "tlv-too-long"
  | "header-too-long"
  | "bad-signature"
  | "bad-version"
  | "bad-command"
  | "bad-family"
  | "bad-length"
  | "bad-checksum"
  | "bad-line";

/**
 * A PROXY header that cannot be encoded (bad input) or decoded (bad bytes).
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

/** A successfully decoded header. `length` is the header's size in bytes (data follows it). */
export interface DecodedProxyHeader {
  readonly kind: "header";
  readonly version: 1 | 2;
  readonly command: "proxy" | "local";
  /** Address family; `"unknown"` for v1 UNKNOWN and v2 AF_UNSPEC. */
  readonly family: "inet" | "inet6" | "unix" | "unknown";
  /** Transport; always `"stream"` for v1 TCP4/TCP6. */
  readonly transport: "stream" | "dgram" | "unknown";
  /** Source endpoint (IP families only, PROXY command only); else null. */
  readonly source: ProxyEndpoint | null;
  /** Destination endpoint, like `source`. */
  readonly destination: ProxyEndpoint | null;
  /** TLVs in wire order (v2 only; empty for v1). Values are views into the input. */
  readonly tlvs: readonly ProxyTlv[];
  /** Header length in bytes. */
  readonly length: number;
}

/** Result of {@linkcode decodeProxyHeader}. */
export type ProxyDecodeResult =
  | DecodedProxyHeader
  | { readonly kind: "need-more" }
  | { readonly kind: "invalid"; readonly error: ProxyProtocolError };

const SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20); // "PROXY "
/** Longest v1 line including CRLF (spec section 2.1). */
const V1_MAX = 107;
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

function invalid(code: ProxyProtocolErrorCode, reason: string): ProxyDecodeResult {
  return { kind: "invalid", error: new ProxyProtocolError(code, `Cannot parse PROXY header: ${reason}`) };
}

/** How many leading bytes of `b` agree with `sig` (stops at the shorter). -1 on a mismatch. */
function prefixMatch(b: Uint8Array, sig: Uint8Array): number {
  const n = Math.min(b.length, sig.length);
  for (let i = 0; i < n; i++) if (b[i] !== sig[i]) return -1;
  return n;
}

const V1_PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function decodeV1(bytes: Uint8Array): ProxyDecodeResult {
  const limit = Math.min(bytes.length, V1_MAX);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    const c = bytes[i] as number;
    if (c === 0x0d) {
      if (i + 1 === limit) break; // the LF may still come (or the line is too long)
      if (bytes[i + 1] !== 0x0a) return invalid("bad-line", `CR without LF at offset ${i}`);
      end = i;
      break;
    }
    // A lone LF must not end the line; other controls and non-ASCII are never valid.
    if (c < 0x20 || c > 0x7e) return invalid("bad-line", `byte 0x${c.toString(16)} at offset ${i}`);
  }
  if (end === -1) {
    if (bytes.length >= V1_MAX) return invalid("bad-line", `no CRLF in the first ${V1_MAX} bytes`);
    return { kind: "need-more" };
  }
  const line = String.fromCharCode(...bytes.subarray(0, end));
  const length = end + 2;
  const parts = line.split(" ");
  const base = { kind: "header", version: 1, command: "proxy", tlvs: [], length } as const;
  if (parts[1] === "UNKNOWN") {
    // "the receiver must ignore anything presented before the CRLF" (section 2.1)
    return { ...base, family: "unknown", transport: "unknown", source: null, destination: null };
  }
  if ((parts[1] !== "TCP4" && parts[1] !== "TCP6") || parts.length !== 6) {
    return invalid("bad-line", `${JSON.stringify(line)} is not "PROXY TCP4|TCP6 src dst sport dport"`);
  }
  const want = parts[1] === "TCP4" ? 4 : 6;
  const ends: ProxyEndpoint[] = [];
  for (const [a, p] of [
    [parts[2], parts[4]],
    [parts[3], parts[5]],
  ] as const) {
    const ip = parseIp(a ?? "");
    if (ip === null || ip.family !== want)
      return invalid("bad-address", `${JSON.stringify(a)} is not an IPv${want} address`);
    if (!V1_PORT.test(p ?? "") || Number(p) > 65535)
      return invalid("bad-port", `${JSON.stringify(p)} is not a port`);
    ends.push({ address: formatIp(ip.bytes), port: Number(p) });
  }
  const [source, destination] = ends as [ProxyEndpoint, ProxyEndpoint];
  return { ...base, family: want === 4 ? "inet" : "inet6", transport: "stream", source, destination };
}

const FAMILIES = ["unknown", "inet", "inet6", "unix"] as const;
const TRANSPORTS = ["unknown", "stream", "dgram"] as const;
const ADDR_LEN = [0, 12, 36, 216] as const;

function decodeV2(bytes: Uint8Array): ProxyDecodeResult {
  if (bytes.length < 16) return { kind: "need-more" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const verCmd = bytes[12] as number;
  const famByte = bytes[13] as number;
  if (verCmd >> 4 !== 2) return invalid("bad-version", `version ${verCmd >> 4}, want 2`);
  if ((verCmd & 0xf) > 1) return invalid("bad-command", `command ${verCmd & 0xf} is unassigned`);
  const command = (verCmd & 0xf) === 1 ? "proxy" : "local";
  // Only 0x00, 0x11, 0x12, 0x21, 0x22, 0x31 and 0x32 are valid (section 2.2).
  const fam = famByte >> 4;
  const proto = famByte & 0xf;
  if (fam > 3 || proto > 2 || (fam === 0) !== (proto === 0)) {
    return invalid("bad-family", `family/transport byte 0x${famByte.toString(16).padStart(2, "0")}`);
  }
  const len = view.getUint16(14);
  const length = 16 + len;
  if (bytes.length < length) return { kind: "need-more" };
  const addrLen = ADDR_LEN[fam as 0 | 1 | 2 | 3];
  const base = {
    kind: "header",
    version: 2,
    command,
    family: FAMILIES[fam as 0 | 1 | 2 | 3],
    transport: TRANSPORTS[proto as 0 | 1 | 2],
    length,
  } as const;
  if (len < addrLen) {
    // LOCAL: "discard the protocol block including the family" (section 2.2).
    if (command === "local") return { ...base, source: null, destination: null, tlvs: [] };
    return invalid("bad-length", `length ${len} is shorter than the ${addrLen}-byte address block`);
  }
  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  if (command === "proxy" && (fam === 1 || fam === 2)) {
    const n = fam === 1 ? 4 : 16;
    source = { address: formatIp(bytes.slice(16, 16 + n)), port: view.getUint16(16 + 2 * n) };
    destination = { address: formatIp(bytes.slice(16 + n, 16 + 2 * n)), port: view.getUint16(18 + 2 * n) };
  }
  const tlvs: ProxyTlv[] = [];
  for (let at = 16 + addrLen; at < length; ) {
    if (at + 3 > length) return invalid("bad-tlv", `${length - at} stray bytes at offset ${at}`);
    const type = bytes[at] as number;
    const n = view.getUint16(at + 1);
    if (at + 3 + n > length)
      return invalid("bad-tlv", `TLV 0x${type.toString(16)} at offset ${at} overruns the header`);
    const value = bytes.subarray(at + 3, at + 3 + n);
    if (type === ProxyTlvType.uniqueId && n > 128)
      return invalid("tlv-too-long", `unique ID TLV is ${n} bytes, more than 128`);
    if (type === ProxyTlvType.crc32c) {
      if (n !== 4) return invalid("bad-tlv", `CRC32C TLV is ${n} bytes, want 4`);
      const copy = bytes.slice(0, length);
      copy.fill(0, at + 3, at + 7);
      if (crc32c(copy) !== view.getUint32(at + 3)) return invalid("bad-checksum", "CRC32C mismatch");
    }
    tlvs.push({ type, value });
    at += 3 + n;
  }
  return { ...base, source, destination, tlvs };
}

/**
 * Decodes a PROXY header (version 1 or 2) at the start of `bytes`. Strict: a wrong signature,
 * version, command, family, length, address, port, TLV framing or CRC32C is `invalid`. Never
 * throws on input.
 *
 * @param bytes Bytes received so far; data after the header is left alone.
 * @returns The header (with its `length`), `need-more` for a valid prefix, or `invalid`.
 *
 * @example
 * ```ts
 * import { decodeProxyHeader, encodeProxyV2 } from "@alpnmux/core";
 * const r = decodeProxyHeader(encodeProxyV2({
 *   source: { address: "::ffff:10.0.0.1", port: 1 }, destination: { address: "10.0.0.2", port: 2 },
 * }));
 * if (r.kind === "header") console.log(r.family, r.source?.address); // "inet" "10.0.0.1"
 * ```
 */
export function decodeProxyHeader(bytes: Uint8Array): ProxyDecodeResult {
  if (bytes.length === 0) return { kind: "need-more" };
  const v2 = prefixMatch(bytes, SIGNATURE);
  if (v2 !== -1) return v2 < SIGNATURE.length ? { kind: "need-more" } : decodeV2(bytes);
  const v1 = prefixMatch(bytes, V1_PREFIX);
  if (v1 !== -1) return v1 < V1_PREFIX.length ? { kind: "need-more" } : decodeV1(bytes);
  return invalid("bad-signature", 'neither the version 2 signature nor "PROXY "');
}

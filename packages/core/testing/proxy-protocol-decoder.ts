/**
 * A strict PROXY protocol (version 1 and 2) decoder, test-only: unit tests and test backends
 * check what the encoders in `src/proxy-protocol.ts` and the listeners put on the wire with it.
 * The router itself never reads PROXY headers, so this lives outside the published source.
 *
 * @example Decode what the encoder wrote
 * ```ts
 * import { encodeProxyV1 } from "@alpnmux/core";
 * import { decodeProxyHeader } from "./proxy-protocol-decoder.ts";
 * const r = decodeProxyHeader(encodeProxyV1({
 *   source: { address: "192.0.2.7", port: 50000 }, destination: { address: "192.0.2.1", port: 443 },
 * }));
 * if (r.kind === "header") console.log(r.version, r.source); // 1 { address: "192.0.2.7", port: 50000 }
 * ```
 *
 * @module testing/proxy-protocol-decoder
 */

import { formatIp, parseIp } from "../src/ip.ts";
import { crc32c, type ProxyEndpoint, type ProxyTlv, ProxyTlvType } from "../src/proxy-protocol.ts";

/** Why bytes are not a valid PROXY header. */
export type ProxyDecodeErrorCode =
  | "bad-signature"
  | "bad-version"
  | "bad-command"
  | "bad-family"
  | "bad-length"
  | "bad-checksum"
  | "bad-line"
  | "bad-address"
  | "bad-port"
  | "bad-tlv"
  | "tlv-too-long";

/** Bytes that are not a valid PROXY header; the message starts "Cannot parse PROXY header: ". */
export class ProxyDecodeError extends SyntaxError {
  /** What is wrong, as a stable code. */
  readonly code: ProxyDecodeErrorCode;
  /**
   * @param code The stable code.
   * @param message The full message.
   */
  constructor(code: ProxyDecodeErrorCode, message: string) {
    super(message);
    this.name = "ProxyDecodeError";
    this.code = code;
  }
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
  | { readonly kind: "invalid"; readonly error: ProxyDecodeError };

/** The 12-byte version 2 signature (spec section 2.2), written out here rather than shared with
 * the encoder, so the decoder stays an independent check. */
const SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V1_PREFIX = Uint8Array.of(0x50, 0x52, 0x4f, 0x58, 0x59, 0x20); // "PROXY "
/** Longest v1 line including CRLF (spec section 2.1). */
const V1_MAX = 107;

function invalid(code: ProxyDecodeErrorCode, reason: string): ProxyDecodeResult {
  return { kind: "invalid", error: new ProxyDecodeError(code, `Cannot parse PROXY header: ${reason}`) };
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
 * import { encodeProxyV2 } from "@alpnmux/core";
 * import { decodeProxyHeader } from "./proxy-protocol-decoder.ts";
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

/**
 * Test-only ClientHello builder (Go cryptobyte.Builder style) for the edge cases real clients
 * never send: duplicates, empty lists, trailing dots, GREASE everywhere. Byte concatenation is
 * `concat` from `src/bytes.ts`.
 *
 * @module testing/hello-builder
 */

import { concat } from "../src/bytes.ts";

/** A raw extension: type and body bytes. */
export interface RawExtension {
  type: number;
  data: Uint8Array;
}

/** What {@linkcode buildHelloMessage} puts in the hello. */
export interface HelloSpec {
  legacyVersion?: number;
  sessionId?: Uint8Array;
  cipherSuites?: number[];
  compression?: number[];
  /** Host name for server_name; null leaves the extension out. */
  sni?: string | null;
  /** ALPN protocols; null leaves the extension out. */
  alpn?: string[] | null;
  versions?: number[] | null;
  groups?: number[];
  keyShares?: { group: number; size: number }[];
  ech?: boolean;
  /** Extensions put before the standard ones. */
  before?: RawExtension[];
  /** Extensions put after the standard ones. */
  after?: RawExtension[];
  /** Leave out the extensions block altogether. */
  noExtensions?: boolean;
  /** Bytes appended to the body after the extensions. */
  trailing?: Uint8Array;
}

/** Big-endian length prefix of `size` bytes, then the bytes. */
export function vec(size: 1 | 2 | 3, body: Uint8Array | number[]): Uint8Array {
  const n = body.length;
  const head = size === 1 ? [n] : size === 2 ? [n >> 8, n & 255] : [n >> 16, (n >> 8) & 255, n & 255];
  return concat(head, body);
}

/** uint16 big-endian. */
export function u16(v: number): number[] {
  return [v >> 8, v & 255];
}

/** ASCII bytes of a string. */
export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** An extension with a type and a body. */
export function ext(type: number, data: Uint8Array | number[]): RawExtension {
  return { type, data: Uint8Array.from(data) };
}

/** server_name extension body with the given host names. */
export function sniBody(...names: string[]): Uint8Array {
  return vec(2, concat(...names.map((n) => concat([0], vec(2, ascii(n))))));
}

/** ALPN extension body. */
export function alpnBody(...protos: string[]): Uint8Array {
  return vec(2, concat(...protos.map((p) => vec(1, ascii(p)))));
}

/** Builds a ClientHello handshake message (4-byte header + body). */
export function buildHelloMessage(spec: HelloSpec = {}): Uint8Array {
  const exts: RawExtension[] = [...(spec.before ?? [])];
  const sni = spec.sni === undefined ? "example.com" : spec.sni;
  if (sni !== null) exts.push(ext(0, sniBody(sni)));
  const alpn = spec.alpn === undefined ? ["h2", "http/1.1"] : spec.alpn;
  if (alpn !== null) exts.push(ext(16, alpnBody(...alpn)));
  const versions = spec.versions === undefined ? [0x0304, 0x0303] : spec.versions;
  if (versions !== null) exts.push(ext(43, vec(1, versions.flatMap(u16))));
  exts.push(ext(10, vec(2, (spec.groups ?? [0x001d, 0x0017]).flatMap(u16))));
  exts.push(ext(13, vec(2, [0x0403, 0x0804].flatMap(u16))));
  const shares = spec.keyShares ?? [{ group: 0x001d, size: 32 }];
  exts.push(
    ext(
      51,
      vec(2, concat(...shares.map((s) => concat(u16(s.group), vec(2, new Uint8Array(s.size).fill(7)))))),
    ),
  );
  if (spec.ech) exts.push(ext(0xfe0d, [0, 0, 1, 0, 1, 7, 0, 0, 0, 0]));
  exts.push(...(spec.after ?? []));
  const body = concat(
    u16(spec.legacyVersion ?? 0x0303),
    new Uint8Array(32).fill(0x11),
    vec(1, spec.sessionId ?? new Uint8Array(32).fill(0x22)),
    vec(2, (spec.cipherSuites ?? [0x1301, 0x1302]).flatMap(u16)),
    vec(1, spec.compression ?? [0]),
    spec.noExtensions ? [] : vec(2, concat(...exts.map((e) => concat(u16(e.type), vec(2, e.data))))),
    spec.trailing ?? [],
  );
  return concat([1], vec(3, body));
}

/**
 * Frames a handshake message into records. `sizes` are the fragment sizes of the records
 * (the last one takes what is left); omitted, one record.
 */
export function frame(message: Uint8Array, sizes: number[] = [], recordVersion = 0x0301): Uint8Array {
  const parts: Uint8Array[] = [];
  let o = 0;
  for (const s of sizes) {
    if (o + s >= message.length) break;
    parts.push(concat([22], u16(recordVersion), vec(2, message.subarray(o, o + s))));
    o += s;
  }
  parts.push(concat([22], u16(recordVersion), vec(2, message.subarray(o))));
  return concat(...parts);
}

/** A complete single-record hello. */
export function buildHello(spec: HelloSpec = {}): Uint8Array {
  return frame(buildHelloMessage(spec));
}

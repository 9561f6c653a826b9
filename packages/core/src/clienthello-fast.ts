/**
 * The ClientHello parser's fast path: one pass of index arithmetic over the message, with no
 * reader objects, no per-extension closures and no subarrays but the byte fields of the result.
 * It accepts exactly what the checked parser (clienthello.ts) accepts and builds the same
 * {@linkcode ClientHello}; on anything unusual (any error, a duplicate, an odd length) it gives
 * up and returns `null`, and the checked parser runs from the start to report the error with
 * its offset and message. So errors are only ever built by one parser.
 *
 * @module clienthello-fast
 */

import {
  type ClientHello,
  type KeyShareEntry,
  type MutableClientHello,
  newClientHello,
} from "./clienthello-types.ts";
import { ExtensionType, isGrease } from "./constants.ts";
import { MAX_HOST_NAME_LENGTH, MAX_LABEL_LENGTH } from "./hostname.ts";

/**
 * One bit per extension type, shared by every call (parsing is synchronous); `TYPES` lists the
 * bits set, and every call clears them before it returns.
 */
const SEEN = new Uint32Array(65536 / 32);
const TYPES = new Uint16Array(16384); // a u16-long extensions block holds at most 16383

/**
 * Parses a ClientHello handshake message the quick way.
 *
 * @param m The handshake message (type, uint24 length, body).
 * @returns The hello, or `null` when the message is not plainly well-formed (then the checked
 *   parser decides).
 * @example
 * ```ts
 * import { parseClientHelloFast } from "./clienthello-fast.ts";
 * parseClientHelloFast(new Uint8Array([1, 0, 0, 1, 3])); // null: let the checked parser say why
 * ```
 */
export function parseClientHelloFast(m: Uint8Array): ClientHello | null {
  const n = m.length;
  if (n < 4 + 2 + 32 + 1 || m[0] !== 1) return null;
  if ((((m[1] as number) << 16) | ((m[2] as number) << 8) | (m[3] as number)) !== n - 4) return null;
  const legacyVersion = ((m[4] as number) << 8) | (m[5] as number);
  const sidLen = m[38] as number;
  let p = 39 + sidLen;
  if (sidLen > 32 || p + 2 > n) return null;
  const suitesEnd = p + 2 + (((m[p] as number) << 8) | (m[p + 1] as number));
  p += 2;
  if (suitesEnd === p || suitesEnd > n || (suitesEnd - p) & 1) return null;
  const cipherSuites = u16Values(m, p, suitesEnd);
  p = suitesEnd;
  if (p >= n) return null;
  const compEnd = p + 1 + (m[p] as number);
  p++;
  if (compEnd === p || compEnd > n) return null;
  const compressionMethods: number[] = [];
  for (; p < compEnd; p++) compressionMethods.push(m[p] as number);
  const hello = newClientHello(
    legacyVersion,
    m.subarray(6, 38),
    m.subarray(39, 39 + sidLen),
    cipherSuites,
    compressionMethods,
    m,
  );
  if (p === n) return hello;
  if (p + 2 > n || p + 2 + (((m[p] as number) << 8) | (m[p + 1] as number)) !== n) return null;
  let count = 0;
  try {
    const extensions = hello.extensions as number[];
    for (p += 2; p < n; ) {
      if (p + 4 > n) return null;
      const ext = ((m[p] as number) << 8) | (m[p + 1] as number);
      const start = p + 4;
      const end = start + (((m[p + 2] as number) << 8) | (m[p + 3] as number));
      if (end > n) return null;
      p = end;
      const word = ext >>> 5;
      const bit = 1 << (ext & 31);
      if ((SEEN[word] as number) & bit) return null;
      SEEN[word] = (SEEN[word] as number) | bit;
      TYPES[count++] = ext;
      if (isGrease(ext)) continue;
      extensions.push(ext);
      if (!readExtension(m, ext, start, end, p === n, hello)) return null;
    }
  } finally {
    for (let i = 0; i < count; i++) SEEN[(TYPES[i] as number) >>> 5] = 0;
  }
  return hello;
}

/** Reads one extension's data `m[start, end)` into `hello`; false when not plainly well-formed. */
function readExtension(
  m: Uint8Array,
  ext: number,
  start: number,
  end: number,
  last: boolean,
  hello: MutableClientHello,
): boolean {
  switch (ext) {
    case ExtensionType.serverName: {
      const host = readServerName(m, start, end);
      if (host === null) return false;
      hello.serverName = host === "" ? null : host;
      return true;
    }
    case ExtensionType.alpn:
      hello.alpn = readAlpn(m, start, end);
      return hello.alpn !== null;
    case ExtensionType.supportedVersions:
      hello.supportedVersions = readU16List(m, start, end, 1);
      return hello.supportedVersions !== null;
    case ExtensionType.supportedGroups:
      hello.supportedGroups = readU16List(m, start, end, 2);
      return hello.supportedGroups !== null;
    case ExtensionType.signatureAlgorithms:
      hello.signatureAlgorithms = readU16List(m, start, end, 2);
      return hello.signatureAlgorithms !== null;
    case ExtensionType.keyShare:
      hello.keyShares = readKeyShares(m, start, end);
      return hello.keyShares !== null;
    case ExtensionType.pskKeyExchangeModes: {
      if (start >= end || start + 1 + (m[start] as number) !== end || end === start + 1) return false;
      const list: number[] = [];
      for (let i = start + 1; i < end; i++) list.push(m[i] as number);
      hello.pskKeyExchangeModes = list;
      return true;
    }
    case ExtensionType.earlyData:
      if (start !== end) return false;
      hello.earlyData = true;
      return true;
    case ExtensionType.preSharedKey:
      return last;
    case ExtensionType.encryptedClientHello:
      hello.ech = true;
      return true;
    default:
      return true;
  }
}

/** The u16 length at `m[at]` if the vector it prefixes ends exactly at `end`, else -1. */
function u16Vector(m: Uint8Array, at: number, end: number): number {
  if (at + 2 > end) return -1;
  return at + 2 + (((m[at] as number) << 8) | (m[at + 1] as number)) === end ? end - at - 2 : -1;
}

/** The host_name, "" when the list has none, or null when not plainly well-formed. */
function readServerName(m: Uint8Array, start: number, end: number): string | null {
  if (u16Vector(m, start, end) <= 0) return null;
  let host = "";
  for (let p = start + 2; p < end; ) {
    if (p + 3 > end) return null;
    const type = m[p] as number;
    const s = p + 3;
    const e = s + (((m[p + 1] as number) << 8) | (m[p + 2] as number));
    if (e > end) return null;
    p = e;
    if (type !== 0) continue;
    if (host !== "") return null;
    host = hostName(m, s, e);
    if (host === "") return null;
  }
  return host;
}

/** The lower-cased host name in `m[s, e)` when it follows the host-name rule, else "". */
function hostName(m: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n === 0 || n > MAX_HOST_NAME_LENGTH || m[e - 1] === 0x2e) return "";
  let label = s;
  let upper = false;
  for (let i = s; i <= e; i++) {
    const c = i < e ? (m[i] as number) : 0x2e;
    if (c === 0x2e) {
      if (i === label || i - label > MAX_LABEL_LENGTH) return "";
      label = i + 1;
    } else if (c < 0x21 || c > 0x7e) return "";
    else if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  const text = ascii(m, s, e);
  return upper ? text.toLowerCase() : text;
}

/** `m[s, e)` as a string of char codes (ASCII here). */
function ascii(m: Uint8Array, s: number, e: number): string {
  return String.fromCharCode.apply(null, m.subarray(s, e) as unknown as number[]);
}

function readAlpn(m: Uint8Array, start: number, end: number): string[] | null {
  if (u16Vector(m, start, end) <= 0) return null;
  const out: string[] = [];
  for (let p = start + 2; p < end; ) {
    const len = m[p] as number;
    const s = p + 1;
    p = s + len;
    if (len === 0 || p > end) return null;
    if (len === 2 && isGrease(((m[s] as number) << 8) | (m[s + 1] as number))) continue;
    out.push(ascii(m, s, p));
  }
  return out;
}

/** A non-empty list of uint16 values behind a `prefix`-byte length filling `m[start, end)`. */
function readU16List(m: Uint8Array, start: number, end: number, prefix: 1 | 2): number[] | null {
  const len =
    prefix === 1
      ? start < end && start + 1 + (m[start] as number) === end
        ? end - start - 1
        : -1
      : u16Vector(m, start, end);
  if (len <= 0 || len & 1) return null;
  return u16Values(m, end - len, end);
}

/** The non-GREASE uint16 values of `m[s, e)` (an even length), in an array of exactly their number. */
function u16Values(m: Uint8Array, s: number, e: number): number[] {
  let count = 0;
  for (let p = s; p < e; p += 2) if (!isGrease(((m[p] as number) << 8) | (m[p + 1] as number))) count++;
  const out = new Array<number>(count);
  let i = 0;
  for (let p = s; p < e; p += 2) {
    const v = ((m[p] as number) << 8) | (m[p + 1] as number);
    if (!isGrease(v)) out[i++] = v;
  }
  return out;
}

function readKeyShares(m: Uint8Array, start: number, end: number): KeyShareEntry[] | null {
  if (u16Vector(m, start, end) < 0) return null;
  const out: KeyShareEntry[] = [];
  for (let p = start + 2; p < end; ) {
    if (p + 4 > end) return null;
    const group = ((m[p] as number) << 8) | (m[p + 1] as number);
    const len = ((m[p + 2] as number) << 8) | (m[p + 3] as number);
    const s = p + 4;
    p = s + len;
    if (len === 0 || p > end) return null;
    if (!isGrease(group)) out.push({ group, keyExchange: m.subarray(s, p) });
  }
  return out;
}

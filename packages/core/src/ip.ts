/**
 * IP address literals: strict parsing of IPv4 dotted-quad and IPv6 text (compressed `::` forms
 * and an embedded IPv4 tail), and canonical formatting (RFC 5952 for IPv6).
 *
 * Parsing is strict on purpose: no leading zeros in IPv4 octets (no octal confusion, as the
 * PROXY protocol requires), no zone index (`%eth0`), no brackets, no shortened IPv4 (`127.1`).
 *
 * @example Parse and format
 * ```ts
 * import { formatIp, parseIp } from "@alpnmux/core";
 * const ip = parseIp("2001:DB8:0:0:0:0:0:1")!;
 * console.log(ip.family, formatIp(ip.bytes)); // 6 "2001:db8::1"
 * ```
 *
 * @module ip
 */

/** A parsed IP address: 4 bytes for IPv4, 16 bytes for IPv6, in network byte order. */
export interface IpAddress {
  /** 4 for IPv4, 6 for IPv6. */
  readonly family: 4 | 6;
  /** The address bytes (length 4 or 16). */
  readonly bytes: Uint8Array;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses `text[from..]` as a dotted quad into `out[at..at+4)`: four decimal octets 0-255
 * without leading zeros, nothing else. A character loop: no regex, split or string slices.
 */
function parseIpv4Into(text: string, from: number, out: Uint8Array, at: number): boolean {
  const n = text.length;
  let i = from;
  for (let part = 0; ; part++) {
    const s = i;
    let v = 0;
    while (i < n) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
    const len = i - s;
    if (len === 0 || len > 3 || (len > 1 && text.charCodeAt(s) === 48) || v > 255) return false;
    out[at + part] = v;
    if (part === 3) return i === n;
    if (i >= n || text.charCodeAt(i) !== 46) return false;
    i++;
  }
}

/** Parses hex groups (and an IPv4 tail when `last`) into 16-bit words; null when malformed. */
function parseGroups(text: string, last: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (last && i === parts.length - 1 && p.includes(".")) {
      const v4 = new Uint8Array(4);
      if (!parseIpv4Into(p, 0, v4, 0)) return null;
      words.push(((v4[0] as number) << 8) | (v4[1] as number));
      words.push(((v4[2] as number) << 8) | (v4[3] as number));
    } else {
      if (!HEX_GROUP.test(p)) return null;
      words.push(Number.parseInt(p, 16));
    }
  }
  return words;
}

function parseIpv6(text: string): Uint8Array | null {
  const dbl = text.indexOf("::");
  let words: number[];
  if (dbl === -1) {
    const all = parseGroups(text, true);
    if (all === null || all.length !== 8) return null;
    words = all;
  } else {
    if (text.indexOf("::", dbl + 1) !== -1) return null;
    const head = parseGroups(text.slice(0, dbl), false);
    const tail = parseGroups(text.slice(dbl + 2), true);
    // "::" stands for at least one zero group (RFC 4291, Section 2.2).
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const w = words[i] as number;
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}

/**
 * Parses an IPv4 or IPv6 address literal.
 *
 * @param text The address text, e.g. `"192.0.2.1"`, `"2001:db8::1"`, `"::ffff:192.0.2.1"`.
 * @returns The family and bytes, or `null` when `text` is not a valid literal.
 *
 * @example Parse an IPv4-mapped IPv6 address
 * ```ts
 * import { parseIp } from "@alpnmux/core";
 * parseIp("::ffff:1.2.3.4"); // { family: 6, bytes: Uint8Array(16) [0, …, 0xff, 0xff, 1, 2, 3, 4] }
 * parseIp("01.2.3.4"); // null (leading zero)
 * ```
 */
export function parseIp(text: string): IpAddress | null {
  if (text.length > 45) return null; // longest IPv6 text form is 45 characters
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    return bytes === null ? null : { family: 6, bytes };
  }
  const bytes = new Uint8Array(4);
  return parseIpv4Into(text, 0, bytes, 0) ? { family: 4, bytes } : null;
}

/**
 * Parses an address literal into `out` (at least 16 bytes) the way the PROXY protocol sends it:
 * IPv4 and IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as 4 bytes, other IPv6 as 16. IPv4 and the
 * lower-case mapped form take a fast path that allocates nothing (the peer address of every
 * connection comes here).
 *
 * @param text The address text, as {@linkcode parseIp} accepts it.
 * @param out Where the bytes are written, from index 0.
 * @returns 4 or 16 (the bytes written), or 0 when `text` is not a valid literal.
 * @example
 * ```ts
 * import { parseIpInto } from "@alpnmux/core";
 * const out = new Uint8Array(16);
 * parseIpInto("::ffff:192.0.2.1", out); // 4: out starts 192, 0, 2, 1
 * ```
 */
export function parseIpInto(text: string, out: Uint8Array): 0 | 4 | 16 {
  if (text.indexOf(":") === -1) return parseIpv4Into(text, 0, out, 0) ? 4 : 0;
  if (text.startsWith("::ffff:") && parseIpv4Into(text, 7, out, 0)) return 4;
  const ip = parseIp(text);
  if (ip === null) return 0;
  if (isIpv4Mapped(ip.bytes)) {
    out.set(ip.bytes.subarray(12));
    return 4;
  }
  out.set(ip.bytes);
  return 16;
}

/**
 * Tells whether `text` is an IPv4 or IPv6 address literal accepted by {@linkcode parseIp}.
 *
 * @param text The text to check.
 * @returns `true` for an IP literal.
 *
 * @example Tell names from addresses
 * ```ts
 * import { isIpLiteral } from "@alpnmux/core";
 * isIpLiteral("::1"); // true
 * isIpLiteral("example.com"); // false
 * ```
 */
export function isIpLiteral(text: string): boolean {
  return parseIp(text) !== null;
}

/**
 * Tells whether 16 address bytes are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291,
 * Section 2.5.5.2).
 *
 * @param bytes Address bytes.
 * @returns `true` when `bytes` has length 16 and the `::ffff:0:0/96` prefix.
 *
 * @example
 * ```ts
 * import { isIpv4Mapped, parseIp } from "@alpnmux/core";
 * isIpv4Mapped(parseIp("::ffff:10.0.0.1")!.bytes); // true
 * ```
 */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Returns the IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) of 4 IPv4 bytes; 16 bytes are returned
 * unchanged.
 *
 * @param bytes 4 or 16 address bytes.
 * @returns 16 address bytes.
 * @throws {RangeError} When `bytes` is neither 4 nor 16 bytes long.
 *
 * @example
 * ```ts
 * import { formatIp, toIpv6 } from "@alpnmux/core";
 * formatIp(toIpv6(new Uint8Array([192, 0, 2, 1]))); // "::ffff:192.0.2.1"
 * ```
 */
export function toIpv6(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 16) return bytes;
  if (bytes.length !== 4) throw new RangeError(`Cannot map address: ${bytes.length} bytes`);
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(bytes, 12);
  return out;
}

function formatIpv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/**
 * Formats address bytes as text: dotted-quad for 4 bytes, the RFC 5952 canonical form for 16
 * bytes (lower case, no leading zeros, the longest run of two or more zero groups shortened to
 * `::`, the first one on a tie, and `::ffff:a.b.c.d` for IPv4-mapped addresses, Section 5).
 *
 * @param bytes 4 or 16 address bytes.
 * @returns The canonical text form.
 * @throws {RangeError} When `bytes` is neither 4 nor 16 bytes long.
 *
 * @example
 * ```ts
 * import { formatIp } from "@alpnmux/core";
 * formatIp(new Uint8Array([127, 0, 0, 1])); // "127.0.0.1"
 * formatIp(new Uint8Array(16)); // "::"
 * ```
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpv4(bytes, 0);
  if (bytes.length !== 16) throw new RangeError(`Cannot format IP address: ${bytes.length} bytes`);
  if (isIpv4Mapped(bytes)) return `::ffff:${formatIpv4(bytes, 12)}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number));
  // RFC 5952, Section 4.2: shorten the longest run (length >= 2) of zero groups, first on a tie.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestAt === -1) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/**
 * Host names and host patterns: normalisation, exact and `*.example.com` wildcard matching (the
 * `*` is exactly one non-empty left-most label, RFC 6125 Section 6.4.3, as in certmagic), a set
 * that matches one name against many patterns in O(1), and RFC 8738 reverse-DNS names for IP
 * identifiers.
 *
 * Names are compared in ASCII lower case. IDNs must be given in their A-label form (`xn--…`),
 * which is what SNI carries. One rule, {@linkcode findHostNameIssue}, decides which names are
 * valid, for SNI in a hello and for route patterns alike: a route for `a_b.example` matches a
 * hello whose SNI is `a_b.example`.
 *
 * @example Route by SNI
 * ```ts
 * import { HostnameSet } from "@alpnmux/core";
 * const set = new HostnameSet(["example.com", "*.example.com"]);
 * set.has("WWW.example.com"); // true
 * set.has("a.b.example.com"); // false: "*" is one label
 * ```
 *
 * @module hostname
 */

import { formatIp, parseIp } from "./ip.ts";

/** Why a host pattern is rejected. */
export type HostPatternErrorCode = HostNameIssueCode | "bad-wildcard";

/**
 * A host pattern in configuration that cannot be used. Thrown at load time, never per connection.
 *
 * @example
 * ```ts
 * import { compileHostPattern, HostPatternError } from "@alpnmux/core";
 * try {
 *   compileHostPattern("a.*.com");
 * } catch (e) {
 *   if (e instanceof HostPatternError) console.log(e.code); // "bad-wildcard"
 * }
 * ```
 */
export class HostPatternError extends TypeError {
  /** What is wrong, as a stable machine-readable code. */
  readonly code: HostPatternErrorCode;
  /** The rejected pattern, as given. */
  readonly pattern: string;
  /**
   * @param code The stable error code.
   * @param pattern The rejected pattern.
   * @param reason Why, without the "Cannot parse host pattern" prefix.
   */
  constructor(code: HostPatternErrorCode, pattern: string, reason: string) {
    super(`Cannot parse host pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = "HostPatternError";
    this.code = code;
    this.pattern = pattern;
  }
}

/** Longest host name, in text form without a trailing dot (RFC 1035: 255 octets on the wire). */
export const MAX_HOST_NAME_LENGTH = 253;

/** Longest label of a host name (RFC 1035, Section 2.3.4). */
export const MAX_LABEL_LENGTH = 63;

/** Why a host name breaks {@linkcode findHostNameIssue}'s rule. */
export type HostNameIssueCode =
  | "empty"
  | "too-long"
  | "label-too-long"
  | "empty-label"
  | "trailing-dot"
  | "bad-character";

/** What {@linkcode findHostNameIssue} found wrong with a name. */
export interface HostNameIssue {
  /** The broken part of the rule. */
  readonly code: HostNameIssueCode;
  /** Index in the name (character or byte) where the problem is. */
  readonly index: number;
  /** Why, as a predicate for "the name …" or "host_name …" (e.g. `has an empty label`). */
  readonly reason: string;
}

const DOT = 0x2e;

function charText(c: number): string {
  if (c > 0xff) return `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
  return `0x${c.toString(16).padStart(2, "0")}`;
}

/**
 * The one host-name rule, used both for SNI in a ClientHello and for the names in route
 * patterns, so every name a hello can carry can be routed. It keeps the structure of a DNS name
 * (RFC 1035; RFC 6066, Section 3 for SNI) and accepts any visible ASCII character in labels, as
 * real SNI does (`_` in service names, and HAProxy, nginx, Caddy and sslh route whatever bytes
 * arrive):
 *
 * - not empty, at most 253 characters, no trailing dot;
 * - labels of 1 to 63 characters;
 * - only visible ASCII (0x21-0x7e): NUL and other control characters, space and anything
 *   non-ASCII are refused (IDNs travel as A-labels, `xn--…`).
 *
 * Letters are not case-folded here; callers compare in lower case.
 *
 * @param name The name as text, or its bytes (as in the server_name extension).
 * @returns `null` when the name follows the rule, else the first issue found.
 * @example
 * ```ts
 * import { findHostNameIssue } from "@alpnmux/core";
 * findHostNameIssue("_acme-challenge.a_b.example"); // null
 * findHostNameIssue("a..example")?.code; // "empty-label"
 * findHostNameIssue(new Uint8Array([0x61, 0x00]))?.code; // "bad-character"
 * ```
 */
export function findHostNameIssue(name: string | Uint8Array): HostNameIssue | null {
  const n = name.length;
  const at: (i: number) => number =
    typeof name === "string" ? (i) => name.charCodeAt(i) : (i) => name[i] as number;
  if (n === 0) return { code: "empty", index: 0, reason: "is empty" };
  if (n > MAX_HOST_NAME_LENGTH) {
    return {
      code: "too-long",
      index: 0,
      reason: `is ${n} characters long, more than ${MAX_HOST_NAME_LENGTH}`,
    };
  }
  if (at(n - 1) === DOT) return { code: "trailing-dot", index: n - 1, reason: "ends with a dot" };
  let labelStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? at(i) : DOT;
    if (c === DOT) {
      const len = i - labelStart;
      if (len === 0) return { code: "empty-label", index: labelStart, reason: "has an empty label" };
      if (len > MAX_LABEL_LENGTH) {
        return {
          code: "label-too-long",
          index: labelStart,
          reason: `has a label of ${len} characters, more than ${MAX_LABEL_LENGTH}`,
        };
      }
      labelStart = i + 1;
    } else if (c < 0x21 || c > 0x7e) {
      return {
        code: "bad-character",
        index: i,
        reason: `has ${charText(c)} at index ${i}: only visible ASCII is allowed, no control characters, space or non-ASCII`,
      };
    }
  }
  return null;
}

function lower(name: string): string {
  return name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/**
 * Normalises a host name for matching: ASCII lower case, then checked by the rule of
 * {@linkcode findHostNameIssue} (the same one the hello parser applies to SNI).
 *
 * @param name A host name, e.g. an SNI value.
 * @returns The lower-cased name, or `null` when it is not a valid host name (it then matches no
 * pattern).
 *
 * @example
 * ```ts
 * import { normalizeHostname } from "@alpnmux/core";
 * normalizeHostname("WWW.Example.COM"); // "www.example.com"
 * normalizeHostname("example.com."); // null
 * ```
 */
export function normalizeHostname(name: string): string | null {
  const n = lower(name);
  return findHostNameIssue(n) === null ? n : null;
}

/** A compiled host pattern. */
export interface HostMatcher {
  /** The normalised pattern, e.g. `"*.example.com"`. */
  readonly pattern: string;
  /** Whether the pattern starts with `*.`. */
  readonly wildcard: boolean;
  /** The name (exact) or the parent domain under the `*` (wildcard). */
  readonly base: string;
  /**
   * Tests a host name (normalised first).
   * @param name Host name to test.
   * @returns `true` on a match.
   */
  test(name: string): boolean;
}

/**
 * Compiles an exact (`example.com`) or wildcard (`*.example.com`) host pattern.
 *
 * @param pattern The pattern; compared in lower case.
 * @returns A matcher.
 * @throws {HostPatternError} When the name breaks the rule of {@linkcode findHostNameIssue}
 * (empty, too long, an empty or too long label, a trailing dot, a control, space or non-ASCII
 * character), or for a `*` anywhere but as the whole left-most label (`*foo.com`, `a.*.com`, `*`).
 *
 * @example
 * ```ts
 * import { compileHostPattern } from "@alpnmux/core";
 * const m = compileHostPattern("*.example.com");
 * m.test("a.example.com"); // true
 * m.test("example.com"); // false
 * ```
 */
export function compileHostPattern(pattern: string): HostMatcher {
  const p = lower(pattern);
  const wildcard = p.startsWith("*.");
  const base = wildcard ? p.slice(2) : p;
  if (p === "*") throw new HostPatternError("bad-wildcard", pattern, 'a lone "*" matches no host name');
  if (p.length > MAX_HOST_NAME_LENGTH) {
    throw new HostPatternError(
      "too-long",
      pattern,
      `${p.length} characters, more than ${MAX_HOST_NAME_LENGTH}`,
    );
  }
  if (base.includes("*")) {
    throw new HostPatternError("bad-wildcard", pattern, '"*" may only be the whole left-most label');
  }
  const bad = findHostNameIssue(base);
  if (bad !== null) throw new HostPatternError(bad.code, pattern, `the name ${bad.reason}`);
  const test = wildcard
    ? (name: string) => {
        const n = normalizeHostname(name);
        if (n === null) return false;
        const dot = n.indexOf(".");
        return dot > 0 && n.slice(dot + 1) === base;
      }
    : (name: string) => normalizeHostname(name) === base;
  return { pattern: p, wildcard, base, test };
}

/**
 * A set of host patterns matched in constant time: a set of exact names plus a set of wildcard
 * parent domains (a name matches `*.parent` when everything after its first label is `parent`).
 * Exact patterns win over wildcards in {@linkcode HostnameSet.match}.
 *
 * @example
 * ```ts
 * import { HostnameSet } from "@alpnmux/core";
 * const set = new HostnameSet(["*.example.com"]);
 * set.match("a.example.com"); // "*.example.com"
 * set.match("example.com"); // undefined
 * ```
 */
export class HostnameSet {
  #exact = new Set<string>();
  #parents = new Set<string>();

  /**
   * @param patterns Initial patterns.
   * @throws {HostPatternError} For a bad pattern.
   */
  constructor(patterns: Iterable<string> = []) {
    for (const p of patterns) this.add(p);
  }

  /**
   * Adds a pattern.
   * @param pattern Exact name or `*.parent`.
   * @returns This set.
   * @throws {HostPatternError} For a bad pattern.
   */
  add(pattern: string): this {
    const m = compileHostPattern(pattern);
    (m.wildcard ? this.#parents : this.#exact).add(m.base);
    return this;
  }

  /** Number of distinct patterns. */
  get size(): number {
    return this.#exact.size + this.#parents.size;
  }

  /**
   * Finds the pattern that matches `name`.
   * @param name Host name (normalised here).
   * @returns The normalised matching pattern (exact first), or `undefined`.
   */
  match(name: string): string | undefined {
    const n = normalizeHostname(name);
    if (n === null) return undefined;
    if (this.#exact.has(n)) return n;
    const dot = n.indexOf(".");
    if (dot > 0 && this.#parents.has(n.slice(dot + 1))) return `*${n.slice(dot)}`;
    return undefined;
  }

  /**
   * Tells whether any pattern matches `name`.
   * @param name Host name (normalised here).
   * @returns `true` on a match.
   */
  has(name: string): boolean {
    return this.match(name) !== undefined;
  }

  /** The normalised patterns: exact names first, then wildcards, each in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    yield* this.#exact;
    for (const p of this.#parents) yield `*.${p}`;
  }
}

/**
 * The reverse-DNS name of an IP address, which RFC 8738 (Section 6) uses as the TLS-ALPN-01 SNI
 * for IP identifiers: `d.c.b.a.in-addr.arpa` for IPv4, 32 nibbles in reverse order followed by
 * `ip6.arpa` for IPv6. An IPv4-mapped IPv6 address stays IPv6.
 *
 * @param ip An IP literal (see {@linkcode parseIp}).
 * @returns The lower-case reverse name.
 * @throws {TypeError} When `ip` is not an IP literal.
 *
 * @example
 * ```ts
 * import { reverseIpName } from "@alpnmux/core";
 * reverseIpName("127.0.0.1"); // "1.0.0.127.in-addr.arpa"
 * reverseIpName("2001:db8::1"); // "1.0.0.0.(…24 more…).8.b.d.0.1.0.0.2.ip6.arpa"
 * ```
 */
export function reverseIpName(ip: string): string {
  const a = parseIp(ip);
  if (a === null)
    throw new TypeError(`Cannot build reverse DNS name: ${JSON.stringify(ip)} is not an IP address`);
  if (a.family === 4) return `${[...a.bytes].reverse().join(".")}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) {
    const b = a.bytes[i] as number;
    nibbles.push((b & 0xf).toString(16), (b >> 4).toString(16));
  }
  return `${nibbles.join(".")}.ip6.arpa`;
}

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const NIBBLE = /^[0-9a-f]$/;

/**
 * Parses an RFC 8738 reverse-DNS name back to the IP address. Only complete names are accepted:
 * 4 decimal labels under `in-addr.arpa` or 32 single-hex-digit labels under `ip6.arpa`.
 *
 * @param name A host name such as an SNI value (any case).
 * @returns The canonical IP text ({@linkcode formatIp}), or `null`.
 *
 * @example
 * ```ts
 * import { parseReverseIpName } from "@alpnmux/core";
 * parseReverseIpName("1.0.0.127.in-addr.arpa"); // "127.0.0.1"
 * parseReverseIpName("0.127.in-addr.arpa"); // null (partial)
 * ```
 */
export function parseReverseIpName(name: string): string | null {
  const n = lower(name);
  const labels = n.split(".");
  if (n.endsWith(".in-addr.arpa") && labels.length === 6) {
    const bytes = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const l = labels[3 - i] as string;
      if (!OCTET.test(l) || Number(l) > 255) return null;
      bytes[i] = Number(l);
    }
    return formatIp(bytes);
  }
  if (n.endsWith(".ip6.arpa") && labels.length === 34) {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 32; i++) {
      const l = labels[31 - i] as string;
      if (!NIBBLE.test(l)) return null;
      bytes[i >> 1] = ((bytes[i >> 1] as number) << 4) | Number.parseInt(l, 16);
    }
    return formatIp(bytes);
  }
  return null;
}

/**
 * Tells whether `name` is a complete reverse-DNS name of an IP address (RFC 8738).
 *
 * @param name Host name.
 * @returns `true` when {@linkcode parseReverseIpName} accepts it.
 *
 * @example
 * ```ts
 * import { isReverseIpName } from "@alpnmux/core";
 * isReverseIpName("4.3.2.1.in-addr.arpa"); // true
 * isReverseIpName("example.com"); // false
 * ```
 */
export function isReverseIpName(name: string): boolean {
  return parseReverseIpName(name) !== null;
}

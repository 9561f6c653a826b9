/**
 * Where the responder finds its challenges: a {@linkcode ChallengeStore} of key
 * authorizations (or their SHA-256 digests, see `challenge-value.ts`) with a TTL (the admin
 * API and the ualpn socket write, the responder reads), an in-memory
 * implementation, and a {@linkcode ChallengeCertCache} that builds each challenge certificate
 * once per (identifier, key authorization) and maps TLS server names (including the RFC 8738
 * reverse-DNS names of IP identifiers) to certificates.
 *
 * @example Serve challenges from memory
 * ```ts
 * import { ChallengeCertCache, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const store = new MemoryChallengeStore();
 * await store.set("a.example.test", "token.thumbprint", 10 * 60_000);
 * const certs = new ChallengeCertCache({ store, crypto: globalThis.crypto });
 * const cert = await certs.getCertificate("a.example.test"); // built once, then cached
 * ```
 *
 * @module challenge-store
 */

import {
  ChallengeCertError,
  type ChallengeCertificate,
  createChallengeCertificate,
  normalizeIdentifier,
} from "./challenge-cert.ts";
import { storedDigest } from "./challenge-value.ts";
import { parseReverseIpName } from "./hostname.ts";

/** One stored challenge. */
export interface ChallengeEntry {
  /** The normalised identifier (lower-case name or canonical IP text). */
  readonly identifier: string;
  /**
   * The stored value: a key authorization (hashed into the certificate), or the SHA-256
   * digest of one as 43 base64url characters (put in as is), the two forms
   * `parseChallengeValue()` gives. Records written before digests existed are key
   * authorizations and read the same.
   */
  readonly keyAuthorization: string;
  /** Expiry time in epoch milliseconds; `Infinity` when it never expires. */
  readonly expiresAt: number;
}

/**
 * Storage of pending TLS-ALPN-01 challenges, keyed by identifier. Implementations normalise
 * identifiers with {@linkcode normalizeIdentifier} and hide expired entries.
 *
 * @example A store backed by something else only needs these four methods
 * ```ts
 * import { type ChallengeStore, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const store: ChallengeStore = new MemoryChallengeStore();
 * await store.set("A.example.test", "t.k");
 * (await store.get("a.example.test"))?.keyAuthorization; // "t.k"
 * ```
 */
export interface ChallengeStore {
  /**
   * Adds or replaces the challenge of an identifier. `keyAuthorization` is a key
   * authorization or a stored digest (`parseChallengeValue(value).stored`).
   *
   * @throws {ChallengeCertError} For a bad identifier or an empty key authorization.
   */
  set(identifier: string, keyAuthorization: string, ttlMs?: number): Promise<void>;
  /** The live challenge of an identifier, or `undefined`. */
  get(identifier: string): Promise<ChallengeEntry | undefined>;
  /** Removes a challenge; `true` when one was there. */
  delete(identifier: string): Promise<boolean>;
  /** All live challenges. */
  list(): Promise<ChallengeEntry[]>;
}

/** Options of {@linkcode MemoryChallengeStore}. */
export interface MemoryChallengeStoreOptions {
  /** Clock in epoch milliseconds; if omitted, `Date.now`. */
  readonly now?: () => number;
  /** TTL used when `set` gets none; if 0 or omitted, entries never expire. */
  readonly defaultTtlMs?: number;
}

/**
 * An in-memory {@linkcode ChallengeStore}. Expired entries vanish on access.
 *
 * @example Injectable clock for tests
 * ```ts
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * let t = 0;
 * const store = new MemoryChallengeStore({ now: () => t });
 * await store.set("a.example.test", "k", 1000);
 * t = 1000;
 * await store.get("a.example.test"); // undefined
 * ```
 */
export class MemoryChallengeStore implements ChallengeStore {
  readonly #entries = new Map<string, ChallengeEntry>();
  readonly #now: () => number;
  readonly #defaultTtl: number;

  /** @param options Clock and default TTL. */
  constructor(options: MemoryChallengeStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#defaultTtl = options.defaultTtlMs ?? 0;
  }

  #live(key: string): ChallengeEntry | undefined {
    const e = this.#entries.get(key);
    if (e !== undefined && e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /**
   * Adds or replaces a challenge.
   *
   * @param identifier DNS name or IP address.
   * @param keyAuthorization Non-empty key authorization, or a stored digest (see {@linkcode ChallengeEntry}).
   * @param ttlMs Lifetime; if omitted, the default TTL; 0 or Infinity never expires.
   * @throws {ChallengeCertError} For a bad identifier or an empty key authorization.
   * @example
   * ```ts
   * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
   * const store = new MemoryChallengeStore();
   * await store.set("a.example.test", "token.thumbprint", 600_000);
   * ```
   */
  async set(identifier: string, keyAuthorization: string, ttlMs?: number): Promise<void> {
    const id = normalizeIdentifier(identifier).value;
    if (typeof keyAuthorization !== "string" || keyAuthorization.length === 0) {
      throw new ChallengeCertError("invalid-key-authorization", "the key authorization is empty");
    }
    const ttl = ttlMs ?? this.#defaultTtl;
    const expiresAt = ttl > 0 && Number.isFinite(ttl) ? this.#now() + ttl : Number.POSITIVE_INFINITY;
    this.#entries.set(id, { identifier: id, keyAuthorization, expiresAt });
  }

  /**
   * Looks up a challenge.
   *
   * @param identifier DNS name or IP address (normalised first; a bad one gives `undefined`).
   * @returns The live entry or `undefined`.
   * @example
   * ```ts
   * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
   * const store = new MemoryChallengeStore();
   * await store.set("a.example.test", "token.thumbprint");
   * const e = await store.get("A.EXAMPLE.test");
   * ```
   */
  async get(identifier: string): Promise<ChallengeEntry | undefined> {
    const id = tryNormalize(identifier);
    return id === null ? undefined : this.#live(id);
  }

  /**
   * Removes a challenge.
   *
   * @param identifier DNS name or IP address.
   * @returns `true` when a live entry was removed.
   * @example
   * ```ts
   * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
   * const store = new MemoryChallengeStore();
   * await store.set("a.example.test", "token.thumbprint");
   * await store.delete("a.example.test"); // true
   * ```
   */
  async delete(identifier: string): Promise<boolean> {
    const id = tryNormalize(identifier);
    if (id === null || this.#live(id) === undefined) return false;
    return this.#entries.delete(id);
  }

  /**
   * Lists live challenges.
   *
   * @returns The entries, in insertion order.
   * @example
   * ```ts
   * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
   * const store = new MemoryChallengeStore();
   * await store.set("a.example.test", "token.thumbprint");
   * for (const e of await store.list()) console.log(e.identifier);
   * ```
   */
  async list(): Promise<ChallengeEntry[]> {
    const out: ChallengeEntry[] = [];
    for (const key of [...this.#entries.keys()]) {
      const e = this.#live(key);
      if (e !== undefined) out.push(e);
    }
    return out;
  }
}

function tryNormalize(identifier: string): string | null {
  try {
    return normalizeIdentifier(identifier).value;
  } catch {
    return null;
  }
}

/**
 * Maps an RFC 8738 reverse-DNS name to its IP address: `d.c.b.a.in-addr.arpa` (four decimal
 * labels) to `a.b.c.d`, and 32 nibble labels `.ip6.arpa` to the canonical IPv6 text.
 *
 * @param name A TLS server name (case-insensitive, a final dot allowed).
 * @returns The canonical address text, or `null` when `name` is not such a name.
 * @example
 * ```ts
 * import { reverseDnsToIp } from "@alpnmux/core/challenge";
 * reverseDnsToIp("4.3.2.1.in-addr.arpa"); // "1.2.3.4"
 * reverseDnsToIp("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"); // "2001:db8::1"
 * reverseDnsToIp("example.com"); // null
 * ```
 */
export function reverseDnsToIp(name: string): string | null {
  return parseReverseIpName(name.endsWith(".") ? name.slice(0, -1) : name);
}

/** Options of {@linkcode ChallengeCertCache}. */
export interface ChallengeCertCacheOptions {
  /** Where challenges are looked up. */
  readonly store: ChallengeStore;
  /** The WebCrypto implementation. */
  readonly crypto: Crypto;
  /** Certificate validity; if 0 or omitted, 7 days. */
  readonly validityMs?: number;
  /** Clock in epoch milliseconds; if omitted, `Date.now`. */
  readonly now?: () => number;
  /** Most certificates kept; if 0 or omitted, 1024 (oldest evicted first). */
  readonly maxEntries?: number;
}

/**
 * Builds challenge certificates on demand and caches them per (identifier, key
 * authorization), so the concurrent validation connections of one challenge (3 from Pebble,
 * 5-10 from Let's Encrypt) share one certificate. A changed key authorization or an expired
 * certificate gives a new one.
 *
 * @example Plug into the responder
 * ```ts
 * import { ChallengeCertCache, createChallengeResponder, MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const store = new MemoryChallengeStore();
 * const certs = new ChallengeCertCache({ store, crypto });
 * const responder = createChallengeResponder({ crypto, getCertificate: (sni) => certs.getCertificate(sni) });
 * ```
 */
export class ChallengeCertCache {
  readonly #store: ChallengeStore;
  readonly #crypto: Crypto;
  readonly #validity: number;
  readonly #now: () => number;
  readonly #max: number;
  readonly #certs = new Map<string, Promise<ChallengeCertificate>>();

  /** @param options Store, crypto and limits. */
  constructor(options: ChallengeCertCacheOptions) {
    this.#store = options.store;
    this.#crypto = options.crypto;
    this.#validity = options.validityMs ?? 0;
    this.#now = options.now ?? Date.now;
    this.#max = options.maxEntries || 1024;
  }

  /** How many certificates are cached. */
  get size(): number {
    return this.#certs.size;
  }

  /**
   * The certificate for a TLS server name or identifier: a reverse-DNS name (RFC 8738) is
   * mapped to its IP first.
   *
   * @param serverName The SNI host name, an identifier, or `null` (no SNI).
   * @returns The certificate, or `undefined` when no live challenge matches.
   * @throws {ChallengeCertError} Never for lookups; the store may throw its own errors.
   * @example
   * ```ts
   * import { ChallengeCertCache, MemoryChallengeStore } from "@alpnmux/core/challenge";
   * const store = new MemoryChallengeStore();
   * await store.set("127.0.0.1", "token.thumbprint");
   * const certs = new ChallengeCertCache({ store, crypto });
   * await certs.getCertificate("1.0.0.127.in-addr.arpa"); // the 127.0.0.1 challenge, if any
   * ```
   */
  async getCertificate(serverName: string | null): Promise<ChallengeCertificate | undefined> {
    if (serverName === null || serverName === "") return undefined;
    const entry = await this.#store.get(reverseDnsToIp(serverName) ?? serverName);
    if (entry === undefined) return undefined;
    const key = `${entry.identifier}\u0000${entry.keyAuthorization}`;
    const cached = this.#certs.get(key);
    if (cached !== undefined) {
      const cert = await cached.catch(() => undefined);
      if (cert !== undefined && cert.notAfter.getTime() - 60_000 > this.#now()) return cert;
      if (this.#certs.get(key) === cached) this.#certs.delete(key);
    }
    for (const k of this.#certs.keys()) {
      if (k.startsWith(`${entry.identifier}\u0000`)) this.#certs.delete(k);
    }
    while (this.#certs.size >= this.#max) {
      const oldest = this.#certs.keys().next().value;
      if (oldest === undefined) break;
      this.#certs.delete(oldest);
    }
    const digest = storedDigest(entry.keyAuthorization);
    const built = createChallengeCertificate({
      identifier: entry.identifier,
      ...(digest !== null ? { digest } : { keyAuthorization: entry.keyAuthorization }),
      crypto: this.#crypto,
      now: new Date(this.#now()),
      ...(this.#validity > 0 ? { validityMs: this.#validity } : {}),
    });
    this.#certs.set(key, built);
    try {
      return await built;
    } catch (e) {
      if (this.#certs.get(key) === built) this.#certs.delete(key);
      throw e;
    }
  }

  /**
   * Forgets every cached certificate (e.g. after the store was changed externally).
   *
   * @example
   * ```ts
   * import { ChallengeCertCache, MemoryChallengeStore } from "@alpnmux/core/challenge";
   * const certs = new ChallengeCertCache({ store: new MemoryChallengeStore(), crypto });
   * certs.clear();
   * ```
   */
  clear(): void {
    this.#certs.clear();
  }
}

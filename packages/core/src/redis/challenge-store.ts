/**
 * A {@linkcode ChallengeStore} in Redis, so several alpnmux instances behind one name answer
 * the validations of a challenge stored through any one of them. Each challenge is one key,
 * `<prefix>challenge:<identifier>` (prefix default `alpnmux:`), holding the key authorization
 * (or, for values given as digests, the base64url SHA-256 digest: 43 characters, no `.`), with
 * the TTL as a Redis expiry (`SET … PX`). Instances older than digest support read a digest
 * record as a key authorization: upgrade every instance before hooks send digests. Identifiers are normalised as
 * `MemoryChallengeStore` does, and expiry means the same: none or 0 never expires.
 *
 * @example
 * ```ts
 * import { RedisChallengeStore, RedisClient, type RedisDial } from "@alpnmux/core/redis";
 * async function demo(dial: RedisDial) {
 *   const store = new RedisChallengeStore({ client: new RedisClient({ url: "redis://127.0.0.1:6379", dial }) });
 *   await store.set("a.example.test", "token.thumbprint", 600_000); // any instance can now serve it
 * }
 * ```
 *
 * @module challenge-store
 */

import { ChallengeCertError, normalizeIdentifier } from "../challenge-cert.ts";
import type { ChallengeEntry, ChallengeStore } from "../challenge-store.ts";
import type { RedisClient } from "./client.ts";
import { RedisError, type RespValue } from "./resp.ts";

/** Options of {@linkcode RedisChallengeStore}. */
export interface RedisChallengeStoreOptions {
  /** The connection (shared or own). */
  readonly client: Pick<RedisClient, "command">;
  /** Key prefix; if omitted, `alpnmux:`. */
  readonly keyPrefix?: string;
  /** TTL used when `set` gets none; if 0 or omitted, entries never expire. */
  readonly defaultTtlMs?: number;
  /** Clock in epoch milliseconds (for `expiresAt`); if omitted, `Date.now`. */
  readonly now?: () => number;
  /** Keys asked for per `SCAN` call in `list`; if 0 or omitted, 200. */
  readonly scanCount?: number;
}

const text = new TextDecoder();

function tryNormalize(identifier: string): string | null {
  try {
    return normalizeIdentifier(identifier).value;
  } catch {
    return null;
  }
}

/** Escapes Redis glob characters for `SCAN … MATCH`. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function unexpected(cmd: string, v: RespValue): never {
  throw new RedisError("protocol", `Unexpected reply to ${cmd}: ${JSON.stringify(v)}`);
}

/**
 * Challenges in Redis. Every method may throw a {@linkcode RedisError} (code `timeout`,
 * `connection`, …) when Redis cannot answer; the responder then treats the lookup as failed
 * and the admin API answers 500.
 *
 * @example Any object with `command()` works as the client (here, a canned reply)
 * ```ts
 * import { RedisChallengeStore } from "@alpnmux/core/redis";
 * const store = new RedisChallengeStore({ client: { command: async () => null } });
 * await store.get("a.example.test"); // undefined
 * ```
 */
export class RedisChallengeStore implements ChallengeStore {
  readonly #client: Pick<RedisClient, "command">;
  readonly #prefix: string;
  readonly #defaultTtl: number;
  readonly #now: () => number;
  readonly #scanCount: number;

  /** @param options Client, key prefix, clock. */
  constructor(options: RedisChallengeStoreOptions) {
    this.#client = options.client;
    this.#prefix = `${options.keyPrefix ?? "alpnmux:"}challenge:`;
    this.#defaultTtl = options.defaultTtlMs ?? 0;
    this.#now = options.now ?? Date.now;
    this.#scanCount = options.scanCount || 200;
  }

  /**
   * The Redis key of an identifier (normalised first).
   *
   * @param identifier DNS name or IP address.
   * @returns e.g. `alpnmux:challenge:a.example.test`.
   * @throws {ChallengeCertError} For a bad identifier.
   * @example
   * ```ts
   * import { RedisChallengeStore } from "@alpnmux/core/redis";
   * new RedisChallengeStore({ client: { command: async () => null } }).key("A.Example.TEST");
   * // "alpnmux:challenge:a.example.test"
   * ```
   */
  key(identifier: string): string {
    return this.#prefix + normalizeIdentifier(identifier).value;
  }

  /**
   * Adds or replaces a challenge (`SET key value [PX ttl]`).
   *
   * @param identifier DNS name or IP address.
   * @param keyAuthorization Non-empty key authorization, or a stored digest (`parseChallengeValue(v).stored`).
   * @param ttlMs Lifetime; if omitted, the default TTL; 0 or Infinity never expires.
   * @throws {ChallengeCertError} For a bad identifier or an empty key authorization.
   * @throws {RedisError} When Redis cannot answer.
   * @example
   * ```ts
   * import { RedisChallengeStore } from "@alpnmux/core/redis";
   * const sent: unknown[] = [];
   * const store = new RedisChallengeStore({ client: { command: async (a) => (sent.push(a), "OK") } });
   * await store.set("a.example.test", "t.k", 1500); // sent: [["SET", "alpnmux:challenge:a.example.test", "t.k", "PX", "1500"]]
   * ```
   */
  async set(identifier: string, keyAuthorization: string, ttlMs?: number): Promise<void> {
    const key = this.key(identifier);
    if (typeof keyAuthorization !== "string" || keyAuthorization.length === 0) {
      throw new ChallengeCertError("invalid-key-authorization", "the key authorization is empty");
    }
    const ttl = ttlMs ?? this.#defaultTtl;
    const px = ttl > 0 && Number.isFinite(ttl) ? ["PX", String(Math.max(1, Math.ceil(ttl)))] : [];
    const r = await this.#client.command(["SET", key, keyAuthorization, ...px]);
    if (r !== "OK") unexpected("SET", r);
  }

  /**
   * Looks up a challenge (`GET` and `PTTL`, pipelined).
   *
   * @param identifier DNS name or IP address (a bad one gives `undefined`).
   * @returns The live entry, or `undefined`.
   * @throws {RedisError} When Redis cannot answer.
   * @example
   * ```ts
   * import { RedisChallengeStore } from "@alpnmux/core/redis";
   * const replies: Record<string, unknown> = { GET: new TextEncoder().encode("t.k"), PTTL: -1 };
   * const store = new RedisChallengeStore({ client: { command: async ([cmd]) => replies[cmd as string] as never } });
   * (await store.get("a.example.test"))?.expiresAt; // Infinity
   * ```
   */
  async get(identifier: string): Promise<ChallengeEntry | undefined> {
    const id = tryNormalize(identifier);
    if (id === null) return undefined;
    return this.#read(id, this.#prefix + id);
  }

  async #read(id: string, key: string): Promise<ChallengeEntry | undefined> {
    const [value, pttl] = await Promise.all([
      this.#client.command(["GET", key]),
      this.#client.command(["PTTL", key]),
    ]);
    if (value === null) return undefined;
    if (!(value instanceof Uint8Array)) unexpected("GET", value);
    if (typeof pttl !== "number") unexpected("PTTL", pttl);
    // -2: gone between GET and PTTL (expired); -1: no expiry.
    if (pttl === -2 || pttl === 0) return undefined;
    const expiresAt = pttl === -1 ? Number.POSITIVE_INFINITY : this.#now() + pttl;
    return { identifier: id, keyAuthorization: text.decode(value), expiresAt };
  }

  /**
   * Removes a challenge (`DEL`).
   *
   * @param identifier DNS name or IP address.
   * @returns `true` when a live entry was removed.
   * @throws {RedisError} When Redis cannot answer.
   * @example
   * ```ts
   * import { RedisChallengeStore } from "@alpnmux/core/redis";
   * const store = new RedisChallengeStore({ client: { command: async () => 1 } });
   * await store.delete("a.example.test"); // true
   * ```
   */
  async delete(identifier: string): Promise<boolean> {
    const id = tryNormalize(identifier);
    if (id === null) return false;
    const n = await this.#client.command(["DEL", this.#prefix + id]);
    if (typeof n !== "number") unexpected("DEL", n);
    return n > 0;
  }

  /**
   * Lists live challenges (`SCAN … MATCH <prefix>challenge:*` until the cursor is 0, then
   * `GET`/`PTTL` per key).
   *
   * @returns The entries, sorted by identifier.
   * @throws {RedisError} When Redis cannot answer.
   * @example
   * ```ts
   * import { RedisChallengeStore } from "@alpnmux/core/redis";
   * const store = new RedisChallengeStore({ client: { command: async () => [new TextEncoder().encode("0"), []] } });
   * await store.list(); // []
   * ```
   */
  async list(): Promise<ChallengeEntry[]> {
    const keys = new Set<string>();
    let cursor = "0";
    const match = `${globEscape(this.#prefix)}*`;
    do {
      const r = await this.#client.command([
        "SCAN",
        cursor,
        "MATCH",
        match,
        "COUNT",
        String(this.#scanCount),
      ]);
      if (!Array.isArray(r) || r.length !== 2 || !(r[0] instanceof Uint8Array) || !Array.isArray(r[1])) {
        unexpected("SCAN", r);
      }
      cursor = text.decode(r[0] as Uint8Array);
      for (const k of r[1] as RespValue[]) {
        if (!(k instanceof Uint8Array)) unexpected("SCAN", r);
        keys.add(text.decode(k));
      }
    } while (cursor !== "0");
    const entries = await Promise.all(
      [...keys].map((key) => {
        const id = tryNormalize(key.slice(this.#prefix.length));
        return id === null || this.#prefix + id !== key ? undefined : this.#read(id, key);
      }),
    );
    return entries
      .filter((e): e is ChallengeEntry => e !== undefined)
      .sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
  }
}

/**
 * Certificates shared by several instances (`challenges.store: redis`): one instance at a time
 * orders a given certificate, under a lock `SET <prefix>cert-lock:<name> <token> NX PX <ttl>`
 * that it extends while ordering and releases with a compare-and-delete (Lua `EVAL`, so it never
 * deletes another instance's lock); the issued certificate is kept at `<prefix>cert:<name>` as
 * JSON `{ fullchain, privkey, notAfter }` for the others to read.
 *
 * @example
 * ```ts
 * import { localCoordinator } from "@alpnmux/core/certs";
 * const lock = await localCoordinator.lock("web", 60_000);
 * console.log(lock !== null); // true: one instance never waits
 * await lock?.release();
 * ```
 *
 * @module certs/shared
 */

import type { RespValue } from "../redis/resp.ts";

/** A certificate as kept in the shared store. */
export interface SharedCertificate {
  readonly fullchain: string;
  readonly privkey: string;
  /** ISO 8601. */
  readonly notAfter: string;
}

/** A held lock. */
export interface HeldLock {
  /** Extends the lock by its TTL; false when it was lost (expired, taken). */
  extend(): Promise<boolean>;
  release(): Promise<void>;
}

/** Who may order, and where the result goes. */
export interface CertificateCoordinator {
  /** Whether other instances share (so a lock can be refused). */
  readonly shared: boolean;
  /** The lock for `name`, or null when another instance holds it. */
  lock(name: string, ttlMs: number): Promise<HeldLock | null>;
  read(name: string): Promise<SharedCertificate | null>;
  publish(name: string, cert: SharedCertificate): Promise<void>;
}

/** One instance alone: the lock is always free, nothing is shared. */
export const localCoordinator: CertificateCoordinator = {
  shared: false,
  lock: () => Promise.resolve({ extend: () => Promise.resolve(true), release: () => Promise.resolve() }),
  read: () => Promise.resolve(null),
  publish: () => Promise.resolve(),
};

/** Deletes the key only when it still holds our token. */
export const RELEASE_SCRIPT =
  'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end';
/** Extends the key only when it still holds our token. */
export const EXTEND_SCRIPT =
  'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end';

/** Options of {@linkcode RedisCoordinator}. */
export interface RedisCoordinatorOptions {
  readonly client: { command(args: readonly (string | Uint8Array)[]): Promise<RespValue> };
  /** Key prefix; if omitted, `alpnmux:`. */
  readonly keyPrefix?: string;
  /** WebCrypto for lock tokens; if omitted, `globalThis.crypto`. */
  readonly crypto?: Crypto;
}

function text(v: RespValue): string | null {
  if (v instanceof Error) throw v;
  if (v === null) return null;
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return String(v);
}

/**
 * The coordinator over Redis.
 *
 * @example
 * ```ts
 * import { RedisCoordinator } from "@alpnmux/core/certs";
 * const kv = new Map<string, string>();
 * const coord = new RedisCoordinator({ client: { command: async ([cmd, key, value]) => {
 *   if (cmd === "SET") { if (kv.has(String(key))) return null; kv.set(String(key), String(value)); return "OK"; }
 *   return null;
 * } } });
 * console.log((await coord.lock("web", 1000)) !== null, (await coord.lock("web", 1000)) === null); // true true
 * ```
 */
export class RedisCoordinator implements CertificateCoordinator {
  readonly shared = true;
  readonly #client: RedisCoordinatorOptions["client"];
  readonly #prefix: string;
  readonly #crypto: Crypto;

  constructor(options: RedisCoordinatorOptions) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix ?? "alpnmux:";
    this.#crypto = options.crypto ?? globalThis.crypto;
  }

  async lock(name: string, ttlMs: number): Promise<HeldLock | null> {
    const key = `${this.#prefix}cert-lock:${name}`;
    const token = [...this.#crypto.getRandomValues(new Uint8Array(16))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const ttl = String(Math.max(1, Math.ceil(ttlMs)));
    const got = await this.#client.command(["SET", key, token, "NX", "PX", ttl]);
    if (got instanceof Error) throw got;
    if (got === null) return null;
    return {
      extend: async () => {
        const r = await this.#client.command(["EVAL", EXTEND_SCRIPT, "1", key, token, ttl]);
        if (r instanceof Error) throw r;
        return r === 1;
      },
      release: async () => {
        const r = await this.#client.command(["EVAL", RELEASE_SCRIPT, "1", key, token]);
        if (r instanceof Error) throw r;
      },
    };
  }

  async read(name: string): Promise<SharedCertificate | null> {
    const v = text(await this.#client.command(["GET", `${this.#prefix}cert:${name}`]));
    if (v === null) return null;
    try {
      const j = JSON.parse(v) as Partial<SharedCertificate>;
      if (
        typeof j.fullchain !== "string" ||
        typeof j.privkey !== "string" ||
        typeof j.notAfter !== "string"
      ) {
        return null;
      }
      return { fullchain: j.fullchain, privkey: j.privkey, notAfter: j.notAfter };
    } catch {
      return null;
    }
  }

  async publish(name: string, cert: SharedCertificate): Promise<void> {
    // Kept until a day after it expires: a stale entry is never mistaken for a renewal.
    const ttl = Math.max(60_000, Date.parse(cert.notAfter) - Date.now() + 86_400_000);
    const r = await this.#client.command([
      "SET",
      `${this.#prefix}cert:${name}`,
      JSON.stringify(cert),
      "PX",
      String(Math.ceil(ttl)),
    ]);
    if (r instanceof Error) throw r;
  }
}

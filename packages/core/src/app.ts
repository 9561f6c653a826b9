/**
 * Assembles a whole alpnmux instance from a checked config: the router, the challenge store
 * and built-in responder, and the admin API app. Runtime adapters call this, then only bind
 * sockets (`@alpnmux/core/app`).
 *
 * @module app
 */

import type { Hono } from "hono";
import { AdminApiError, createAdminApp } from "./admin-api.ts";
import { type AdminSettings, resolveAdminSettings } from "./admin-settings.ts";
import { createBuiltinResponder } from "./challenge-responder.ts";
import { type ChallengeStore, MemoryChallengeStore } from "./challenge-store.ts";
import { ConfigError, type RouterConfig } from "./config.ts";
import { RedisChallengeStore } from "./redis/challenge-store.ts";
import { RedisClient, type RedisDial } from "./redis/client.ts";
import { RedisError } from "./redis/resp.ts";
import { createRouter, type Router } from "./router.ts";

/** Options of {@linkcode createInstance}. */
export interface InstanceOptions {
  readonly config: RouterConfig;
  /** Environment variables the instance reads (`ALPNMUX_ADMIN_TOKEN`). */
  readonly env?: { ALPNMUX_ADMIN_TOKEN?: string | undefined };
  /** Reads a text file (the admin token file); if absent, token files are unsupported. */
  readonly readFile?: (path: string) => string;
  /** WebCrypto; if absent, `globalThis.crypto`. */
  readonly crypto?: Crypto;
  /** Challenge store; if absent, the config's `challenges.store` (memory, or Redis through `dial`). */
  readonly store?: ChallengeStore;
  /** Opens TCP connections, for `challenges.store: redis`; if absent, that store is refused. */
  readonly dial?: RedisDial;
  /** Version shown by `/healthz`. */
  readonly version?: string;
}

/** A ready instance: bind `router` with a listener and `admin.app.fetch` with an HTTP server. */
export interface Instance {
  readonly router: Router;
  readonly store: ChallengeStore;
  readonly admin: { readonly settings: AdminSettings; readonly app: Hono } | null;
}

/**
 * Builds the router, store, responder and admin API for a config.
 *
 * @param options Config and environment.
 * @returns The instance.
 * @throws {ConfigError} When the admin settings are unusable (e.g. non-loopback without a token),
 *   or the Redis store is configured but the runtime gave no `dial`.
 * @example
 * ```ts
 * import { loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * import { createInstance } from "@alpnmux/core/app";
 * const { router, admin } = createInstance({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * ```
 */
export function createInstance(options: InstanceOptions): Instance {
  const crypto = options.crypto ?? globalThis.crypto;
  const store = options.store ?? configuredStore(options.config, options.dial);
  const { factory } = createBuiltinResponder({ store, crypto });
  const router = createRouter({ config: options.config, responder: factory });
  const settings = resolveAdminSettings(options.config, options.env ?? {}, (p) => {
    if (!options.readFile) throw new TypeError(`cannot read token file ${p} on this runtime`);
    return options.readFile(p);
  });
  const admin = settings
    ? {
        settings,
        app: createAdminApp({
          router,
          challenges: reportingStoreErrors(store),
          token: settings.token,
          crypto,
          ...(options.version ? { version: options.version } : {}),
        }),
      }
    : null;
  return { router, store, admin };
}

/** The store `challenges` asks for: in memory, or Redis through the runtime's `dial`. */
function configuredStore(config: RouterConfig, dial: RedisDial | undefined): ChallengeStore {
  const c = config.challenges;
  if (c.store !== "redis" || c.redis === undefined) return new MemoryChallengeStore();
  if (dial === undefined) {
    throw new ConfigError("invalid-config", [
      {
        path: "challenges.store",
        message: '"redis" needs TCP connections, which this runtime does not offer',
      },
    ]);
  }
  const client = new RedisClient({ url: c.redis.url, dial, timeoutMs: c.redis.timeout });
  return new RedisChallengeStore({ client, keyPrefix: c.redis.keyPrefix });
}

/** The store for the admin API: a Redis failure becomes a 500 that says so (not "Internal error"). */
function reportingStoreErrors(store: ChallengeStore): ChallengeStore {
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(...a);
      } catch (e) {
        if (!(e instanceof RedisError)) throw e;
        throw new AdminApiError("internal", 500, `Challenge store unavailable: ${e.message}`);
      }
    };
  return {
    set: wrap((id: string, ka: string, ttl?: number) => store.set(id, ka, ttl)),
    get: wrap((id: string) => store.get(id)),
    delete: wrap((id: string) => store.delete(id)),
    list: wrap(() => store.list()),
  };
}

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
import type { CertHost } from "./certs/host.ts";
import type { CertificateManager } from "./certs/manager.ts";
import { createCertificateManager } from "./certs/wire.ts";
import { createBuiltinResponder } from "./challenge-responder.ts";
import { type ChallengeStore, MemoryChallengeStore } from "./challenge-store.ts";
import { ConfigError, type RouterConfig } from "./config.ts";
import { RedisChallengeStore } from "./redis/challenge-store.ts";
import { RedisClient, type RedisDial } from "./redis/client.ts";
import { RedisError } from "./redis/resp.ts";
import { parseRedisUrl } from "./redis/url.ts";
import { createRouter, type Router } from "./router.ts";

/** Options of {@linkcode createInstance}. */
export interface InstanceOptions {
  readonly config: RouterConfig;
  /** Environment variables the instance reads (`ALPNMUX_ADMIN_TOKEN`). */
  readonly env?: { ALPNMUX_ADMIN_TOKEN?: string | undefined };
  /**
   * Reads a text file (the admin token file, the Redis CA file); if absent, such files are
   * unsupported.
   */
  readonly readFile?: (path: string) => string;
  /** WebCrypto; if absent, `globalThis.crypto`. */
  readonly crypto?: Crypto;
  /** Challenge store; if absent, the config's `challenges.store` (memory, or Redis through `dial`). */
  readonly store?: ChallengeStore;
  /**
   * Opens TCP or TLS connections, for `challenges.store: redis`; if absent, that store is
   * refused.
   */
  readonly dial?: RedisDial;
  /** Version shown by `/healthz`. */
  readonly version?: string;
  /** `false`: no admin API (a worker process: the primary serves it). Default `true`. */
  readonly admin?: boolean;
  /** This process's worker number (`workers: N`), added to each connection's log line as `worker`. */
  readonly worker?: number;
  /** Called after the admin API set or deleted a challenge (the primary tells its workers). */
  readonly onChallengesChanged?: () => void;
  /** Called after `PUT /v1/routes` applied a new table (the primary pushes it to its workers). */
  readonly onRoutes?: (config: RouterConfig) => void;
  /** `/metrics` text instead of the router's own registry (the primary sums its workers'). */
  readonly metricsText?: () => Promise<string>;
  /**
   * HTTPS to the CA, files and a shell, for `certificates:`; if absent, a config with
   * certificates is refused. Only an instance with the admin API (not a worker) manages them.
   */
  readonly certs?: CertHost;
}

/** A ready instance: bind `router` with a listener and `admin.app.fetch` with an HTTP server. */
export interface Instance {
  readonly router: Router;
  readonly store: ChallengeStore;
  /**
   * `store` for writers (the admin API, the ualpn socket): a challenge set or deleted through
   * it is looked up afresh by the next validation, past the responder's short negative cache.
   */
  readonly challenges: ChallengeStore;
  readonly admin: { readonly settings: AdminSettings; readonly app: Hono } | null;
  /**
   * The certificate manager of `certificates:` (not started: call `start()` once the listeners
   * are bound), or null when none are configured or this is a worker.
   */
  readonly certificates: CertificateManager | null;
  /** Drops the responder's remembered misses (a challenge was set elsewhere). */
  forgetMisses(): void;
  /** Closes what the instance opened itself (the Redis connection); call it after the last request. */
  close(): void;
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
  // A store passed in is the caller's to close; one made here from the config is ours.
  const { store, close, redis } = options.store
    ? { store: options.store, close() {}, redis: undefined }
    : configuredStore(options);
  const { factory, lookup } = createBuiltinResponder({ store, crypto });
  const challenges = forgettingMisses(store, () => {
    lookup.forget();
    options.onChallengesChanged?.();
  });
  const router = createRouter({
    config: options.config,
    responder: factory,
    ...(options.worker !== undefined ? { worker: options.worker } : {}),
  });
  const settings =
    options.admin === false
      ? null
      : resolveAdminSettings(options.config, options.env ?? {}, (p) => {
          if (!options.readFile) throw new TypeError(`cannot read token file ${p} on this runtime`);
          return options.readFile(p);
        });
  let certificates: CertificateManager | null = null;
  if (settings && options.config.certificates.length > 0) {
    if (options.certs === undefined) {
      throw new ConfigError("invalid-config", [
        {
          path: "certificates",
          message: "needs HTTPS to the CA, files and a shell, which this runtime does not offer",
        },
      ]);
    }
    try {
      certificates = createCertificateManager({
        config: options.config,
        host: options.certs,
        challenges,
        registry: router.metrics.registry,
        crypto,
        ...(redis ? { redis } : {}),
        ...(options.readFile ? { readFile: options.readFile } : {}),
        ...(options.version ? { userAgent: `alpnmux/${options.version}` } : {}),
      });
    } catch (e) {
      close();
      throw e;
    }
  }
  const admin = settings
    ? {
        settings,
        app: createAdminApp({
          router,
          challenges: reportingStoreErrors(challenges),
          token: settings.token,
          crypto,
          ...(options.version ? { version: options.version } : {}),
          ...(options.onRoutes ? { onRoutes: options.onRoutes } : {}),
          ...(options.metricsText ? { metricsText: options.metricsText } : {}),
          ...(certificates ? { certificates } : {}),
        }),
      }
    : null;
  return { router, store, challenges, admin, certificates, forgetMisses: () => lookup.forget(), close };
}

/**
 * The store `challenges` asks for: in memory, or Redis through the runtime's `dial` (TLS for a
 * `rediss:` URL, verified with the PEM CA file `caFile` when set, else the default roots).
 */
function configuredStore(options: InstanceOptions): {
  store: ChallengeStore;
  close(): void;
  redis: RedisClient | undefined;
} {
  const c = options.config.challenges;
  if (c.store !== "redis" || c.redis === undefined) {
    return { store: new MemoryChallengeStore(), close() {}, redis: undefined };
  }
  const invalid = (path: string, message: string) => new ConfigError("invalid-config", [{ path, message }]);
  const { dial, readFile } = options;
  if (dial === undefined) {
    throw invalid("challenges.store", '"redis" needs TCP connections, which this runtime does not offer');
  }
  let ca: string | undefined;
  const caFile = c.redis.caFile;
  if (caFile !== undefined) {
    const path = "challenges.redis.caFile";
    if (!parseRedisUrl(c.redis.url).tls) throw invalid(path, 'a CA file is for TLS: use a "rediss://" URL');
    if (readFile === undefined) throw invalid(path, "this runtime cannot read files");
    try {
      ca = readFile(caFile);
    } catch (e) {
      throw invalid(path, `cannot read ${caFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
      throw invalid(path, `${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    }
  }
  const client = new RedisClient({
    url: c.redis.url,
    dial,
    timeoutMs: c.redis.timeout,
    ...(ca !== undefined ? { ca } : {}),
  });
  return {
    store: new RedisChallengeStore({ client, keyPrefix: c.redis.keyPrefix }),
    close: () => client.close(),
    redis: client,
  };
}

/** The store for the admin API: a challenge set or deleted here is looked up afresh at once. */
function forgettingMisses(store: ChallengeStore, forget: () => void): ChallengeStore {
  return {
    set: async (id, ka, ttl) => {
      await store.set(id, ka, ttl);
      forget();
    },
    get: (id) => store.get(id),
    delete: async (id) => {
      const r = await store.delete(id);
      forget();
      return r;
    },
    list: () => store.list(),
  };
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

/**
 * Assembles a whole alpnmux instance from a checked config: the router, the challenge store
 * and built-in responder, and the admin API app. Runtime adapters call this, then only bind
 * sockets (`@alpnmux/core/app`).
 *
 * @module app
 */

import type { Hono } from "hono";
import { createAdminApp } from "./admin-api.ts";
import { type AdminSettings, resolveAdminSettings } from "./admin-settings.ts";
import { createBuiltinResponder } from "./challenge-responder.ts";
import { type ChallengeStore, MemoryChallengeStore } from "./challenge-store.ts";
import type { RouterConfig } from "./config.ts";
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
  /** Challenge store; if absent, in memory. A shared store (e.g. Redis) plugs in here. */
  readonly store?: ChallengeStore;
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
 * @throws {ConfigError} When the admin settings are unusable (e.g. non-loopback without a token).
 * @example
 * ```ts
 * import { loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * import { createInstance } from "@alpnmux/core/app";
 * const { router, admin } = createInstance({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * ```
 */
export function createInstance(options: InstanceOptions): Instance {
  const crypto = options.crypto ?? globalThis.crypto;
  const store = options.store ?? new MemoryChallengeStore();
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
          challenges: store,
          token: settings.token,
          crypto,
          ...(options.version ? { version: options.version } : {}),
        }),
      }
    : null;
  return { router, store, admin };
}

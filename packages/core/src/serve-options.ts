/**
 * The contract every runtime listener implements: `serve(options) → Server`.
 *
 * @module serve-options
 */

import type { RouterConfig } from "./config.ts";
import { createRouter, type ResponderFactory, type Router } from "./router.ts";

/** Options of a runtime listener's `serve()`. */
export interface ServeOptions {
  /** A checked config. */
  readonly config: RouterConfig;
  /** An existing router (e.g. shared with the admin API); if absent, one is made from `config`. */
  readonly router?: Router;
  /** The built-in ACME responder factory; if absent, builtin routes close. */
  readonly responder?: ResponderFactory;
}

/** A running listener group. */
export interface Server {
  readonly router: Router;
  /** Bound addresses (real ports when 0 was asked). */
  readonly addresses: readonly { host: string; port: number }[];
  /**
   * Stops accepting, closes connections still in the hello phase, lets spliced connections
   * finish for up to `drainMs` (the config's `drainTimeout` if omitted), then closes the rest.
   */
  stop(drainMs?: number): Promise<void>;
}

/**
 * The router a listener uses: the one given, or a new one from the config.
 *
 * @param options Listener options.
 * @returns The router.
 * @example
 * ```ts
 * import { parseConfig, routerFor } from "@alpnmux/core";
 * const router = routerFor({ config: parseConfig({ default: "reject" }) });
 * router.active; // 0
 * ```
 */
export function routerFor(options: ServeOptions): Router {
  return (
    options.router ??
    createRouter({ config: options.config, ...(options.responder ? { responder: options.responder } : {}) })
  );
}

/**
 * The contract every runtime listener implements, `serve(options) → Server`, and the engine
 * each one drives ({@linkcode engineFor}).
 *
 * @module serve
 */

import type { RouterConfig } from "./config.ts";
import { Engine } from "./engine.ts";
import type { EngineIO } from "./engine-types.ts";
import { type ChallengeHost, createRouter, type Router } from "./router.ts";

/** Options of a runtime listener's `serve()`. */
export interface ServeOptions {
  /** A checked config. */
  readonly config: RouterConfig;
  /** An existing router (e.g. shared with the admin API); if absent, one is made from `config`. */
  readonly router?: Router;
  /** The built-in ACME responder; if absent (and no `router`), builtin routes close. */
  readonly responder?: ChallengeHost;
  /** Bind with SO_REUSEPORT (the workers of `workers: N` share each address); default `false`. */
  readonly reusePort?: boolean;
}

/** A running listener group. */
export interface Server {
  readonly router: Router;
  /** Bound addresses (real ports when 0 was asked). */
  readonly addresses: readonly { host: string; port: number }[];
  /** Stops accepting new connections; resolves once the listening sockets are closed. */
  close(): Promise<void>;
  /**
   * Stops accepting (if not yet), closes connections not yet routed, lets spliced connections finish for
   * up to `drainMs` (the config's `drainTimeout` if omitted), then resets the rest.
   */
  stop(drainMs?: number): Promise<void>;
}

/**
 * The engine a listener drives: over the router given, or a new one from the config.
 *
 * @param options Listener options.
 * @param io The listener's socket operations.
 * @returns The engine.
 * @example
 * ```ts
 * import { engineFor, parseConfig, type EngineIO } from "@alpnmux/core";
 * // A listener's socket operations (here: ones that do nothing).
 * const io: EngineIO<object> = {
 *   write: () => true, pause() {}, resume() {}, shutdown() {}, close() {}, dial() {}, timer() {},
 * };
 * const engine = engineFor({ config: parseConfig({ default: "reject" }) }, io);
 * engine.router.active; // 0
 * ```
 */
export function engineFor<S>(options: ServeOptions, io: EngineIO<S>): Engine<S> {
  const router =
    options.router ??
    createRouter({ config: options.config, ...(options.responder ? { responder: options.responder } : {}) });
  return new Engine({ router, io });
}

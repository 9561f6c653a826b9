/**
 * alpnmux core: the runtime-agnostic parts of a TLS :443 router that reads the ClientHello
 * without terminating TLS and routes by SNI and ALPN.
 *
 * @example Sniff a hello and decide a route
 * ```ts
 * import { createRouter, loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * const router = createRouter({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * // Called by a listener with the first bytes read from a new connection.
 * function onConnection(firstBytes: Uint8Array) {
 *   const r = router.accept({ client: { address: "192.0.2.7", port: 50000 }, local: { address: "192.0.2.1", port: 443 } });
 *   if (r.ok) console.log(r.session.onData(firstBytes)); // wait | dial | respond | close
 * }
 * ```
 * @module
 */
export * from "./address.ts";
export * from "./admin-settings.ts";
export * from "./bytes.ts";
export * from "./cli-args.ts";
export * from "./clienthello.ts";
export * from "./config.ts";
export * from "./constants.ts";
export * from "./duration.ts";
export * from "./errors.ts";
export * from "./hello-report.ts";
export * from "./hostname.ts";
export * from "./ip.ts";
export * from "./listen-error.ts";
export * from "./listen-plan.ts";
export * from "./logging.ts";
export * from "./metrics.ts";
export * from "./policy.ts";
export * from "./proxy-protocol.ts";
export * from "./router.ts";
export * from "./router-metrics.ts";
export * from "./serve-options.ts";
export * from "./session.ts";
export * from "./sniff.ts";

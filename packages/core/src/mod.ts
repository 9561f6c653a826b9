/**
 * alpnmux core: the runtime-agnostic parts of a TLS :443 router that reads the ClientHello
 * without terminating TLS and routes by SNI and ALPN.
 *
 * @example Sniff a hello and decide a route
 * ```ts
 * import { createRouter, loadConfig, DEFAULT_CONFIG_YAML, sniffHello } from "@alpnmux/core";
 * const router = createRouter({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * const firstBytes = new Uint8Array(0); // what a connection sent first
 * const r = sniffHello(firstBytes); // need-more | hello | not-tls | invalid | too-large
 * if (r.kind === "hello") console.log(router.decide(r.hello)); // forward | acme-builtin | reject
 * // A listener drives an `Engine` with socket events: it does this for every connection.
 * ```
 * @module
 */
export * from "./address.ts";
export * from "./admin-settings.ts";
export * from "./bytes.ts";
export * from "./cli-args.ts";
export * from "./clienthello.ts";
export * from "./config.ts";
export * from "./connection.ts";
export * from "./connection-record.ts";
export * from "./constants.ts";
export * from "./deadlines.ts";
export * from "./duration.ts";
export * from "./engine.ts";
export * from "./engine-types.ts";
export * from "./errors.ts";
export * from "./flow.ts";
export * from "./hello-report.ts";
export * from "./hostname.ts";
export * from "./ip.ts";
export * from "./listen-error.ts";
export * from "./listen-plan.ts";
export * from "./logging.ts";
export * from "./metrics.ts";
export * from "./policy.ts";
export * from "./proxy-header.ts";
export * from "./proxy-protocol.ts";
export * from "./read-size.ts";
export * from "./router.ts";
export * from "./router-metrics.ts";
export * from "./run-flags.ts";
export * from "./serve.ts";
export * from "./sniff.ts";

/**
 * The router's Prometheus metrics, registered once per router.
 *
 * @module router-metrics
 */

import { Registry } from "./metrics.ts";

/** Every metric the router keeps, with pre-declared label names, and their registry. */
export type RouterMetrics = { readonly registry: Registry } & Readonly<ReturnType<typeof makeMetrics>>;

function makeMetrics(registry: Registry) {
  return {
    connections: registry.counter<"route" | "outcome">({
      name: "alpnmux_connections_total",
      help: "Connections closed, by route and outcome.",
      labelNames: ["route", "outcome"],
    }),
    active: registry.gauge({ name: "alpnmux_connections_active", help: "Connections open now." }),
    helloPhase: registry.gauge({
      name: "alpnmux_hello_phase_connections",
      help: "Connections still waiting for a complete ClientHello.",
    }),
    helloBytes: registry.histogram({
      name: "alpnmux_hello_bytes",
      help: "Size of ClientHellos read, record headers included.",
      buckets: [256, 512, 1024, 1500, 2048, 4096, 8192, 16384],
    }),
    helloWait: registry.histogram({
      name: "alpnmux_hello_wait_seconds",
      help: "Time from accept to a routing decision.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    helloErrors: registry.counter<"code">({
      name: "alpnmux_hello_errors_total",
      help: "First flights refused by the sniffer, by error code.",
      labelNames: ["code"],
    }),
    bytes: registry.counter<"route" | "direction">({
      name: "alpnmux_bytes_total",
      help: "Bytes spliced, by route and direction (upstream: client to server; downstream: server to client).",
      labelNames: ["route", "direction"],
    }),
    upstreamErrors: registry.counter<"route">({
      name: "alpnmux_upstream_errors_total",
      help: "Upstream connect or I/O failures, by route.",
      labelNames: ["route"],
    }),
    limitRejections: registry.counter<"limit">({
      name: "alpnmux_limit_rejections_total",
      help: "Connections refused at accept by a connection limit.",
      labelNames: ["limit"],
    }),
    challenges: registry.counter<"outcome">({
      name: "alpnmux_challenges_total",
      help: "TLS-ALPN-01 validations answered by the built-in responder, by outcome.",
      labelNames: ["outcome"],
    }),
    configReloads: registry.counter<"result">({
      name: "alpnmux_config_reloads_total",
      help: "Route table swaps, by result.",
      labelNames: ["result"],
    }),
  };
}

/**
 * Creates the router's metrics in a new registry.
 *
 * @returns The metrics; `registry.render()` is the /metrics body.
 * @example
 * ```ts
 * import { createRouterMetrics } from "@alpnmux/core";
 * const m = createRouterMetrics();
 * m.connections.labels({ route: "acme", outcome: "spliced" }).inc();
 * m.registry.render();
 * ```
 */
export function createRouterMetrics(): RouterMetrics {
  const registry = new Registry();
  return { registry, ...makeMetrics(registry) };
}

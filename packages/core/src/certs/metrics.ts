/**
 * The certificate manager's Prometheus metrics: `alpnmux_certificate_not_after_seconds{name}`
 * (gauge, epoch seconds of the certificate in use) and
 * `alpnmux_certificate_renewals_total{name,result}` (result `issued`, `shared` or `failed`).
 * Registered in the primary's registry only, so `/metrics` shows them once with workers.
 *
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * import { certificateMetrics } from "@alpnmux/core/certs";
 * const registry = new Registry();
 * certificateMetrics(registry).renewals.labels({ name: "web", result: "issued" }).inc();
 * console.log(registry.render().includes('result="issued"')); // true
 * ```
 *
 * @module certs/metrics
 */

import type { Counter, Gauge, Registry } from "../metrics.ts";

/** The two families. */
export interface CertificateMetrics {
  readonly notAfter: Gauge<"name">;
  readonly renewals: Counter<"name" | "result">;
}

/**
 * Creates and registers the certificate metrics.
 *
 * @param registry Where they go.
 * @returns The families.
 * @example
 * ```ts
 * import { Registry } from "@alpnmux/core";
 * import { certificateMetrics } from "@alpnmux/core/certs";
 * const m = certificateMetrics(new Registry());
 * m.notAfter.labels({ name: "web" }).set(1_767_225_600);
 * ```
 */
export function certificateMetrics(registry: Registry): CertificateMetrics {
  return {
    notAfter: registry.gauge({
      name: "alpnmux_certificate_not_after_seconds",
      help: "notAfter of the certificate in use, in seconds since the epoch.",
      labelNames: ["name"],
    }),
    renewals: registry.counter({
      name: "alpnmux_certificate_renewals_total",
      help: "Certificate order attempts by outcome (issued, shared, failed).",
      labelNames: ["name", "result"],
    }),
  };
}

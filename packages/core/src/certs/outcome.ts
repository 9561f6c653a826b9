/**
 * What an attempt's outcome does to a certificate's {@linkcode Entry}: a new certificate is
 * written (storage and `out`), becomes the current one and is deployed, with its last result,
 * metrics and log line; a failure counts, gets its retry plan (schedule.ts) and the CA's
 * problems as the last result. The lifecycle (lifecycle.ts) decides when; this file is the
 * bookkeeping.
 *
 * @example
 * ```ts
 * import { newEntry } from "@alpnmux/core/certs";
 * import { recordFailure } from "./outcome.ts";
 * const e = newEntry({ name: "web", identifiers: ["example.com"], out: "/tmp/web", keyType: "ec-p256" } as never, "/tmp/acme");
 * const clock = { now: () => 0, random: () => 0.5, setTimer: () => () => {} } as never;
 * const plan = recordFailure({ clock, metrics: null }, e, new Error("boom"), "missing", 0);
 * console.log(e.last?.outcome, e.failures, plan.at > 0); // "failed" 1 true
 * ```
 *
 * @module certs/outcome
 */

import { getLogger } from "@logtape/logtape";
import type { CertClock } from "./clock.ts";
import { runDeploy } from "./deploy.ts";
import type { Entry } from "./entry.ts";
import type { CertHost } from "./host.ts";
import { type CertificateTools, orderFailure } from "./issuer.ts";
import type { Material } from "./material.ts";
import type { CertificateMetrics } from "./metrics.ts";
import type { Obtained } from "./obtain.ts";
import { type RetryPlan, retryPlan } from "./schedule.ts";
import type { RenewalReason } from "./status.ts";
import { writeCertificate } from "./storage.ts";

const log = getLogger(["alpnmux", "certs"]);

/** What the bookkeeping needs (the manager's host, tools, clock and metrics). */
export interface OutcomeDeps {
  readonly host: CertHost;
  readonly tools: Pick<CertificateTools, "splitPemChain">;
  readonly clock: CertClock;
  readonly metrics: CertificateMetrics | null;
  readonly deployTimeoutMs?: number | undefined;
}

/**
 * Writes a certificate and its key to storage and to `out` (state.json is `saveState`'s).
 *
 * @param d Host and tools.
 * @param e The entry.
 * @param m The certificate.
 * @returns Once written.
 * @example
 * ```ts
 * import { newEntry } from "@alpnmux/core/certs";
 * import { writeMaterial } from "./outcome.ts";
 * console.log(typeof writeMaterial, typeof newEntry); // "function" "function"
 * ```
 */
export function writeMaterial(d: Pick<OutcomeDeps, "host" | "tools">, e: Entry, m: Material): Promise<void> {
  const dirs = { storage: e.dir, out: e.config.out };
  return writeCertificate(d.host, dirs, m.fullchain, m.privkey, d.tools.splitPemChain);
}

/**
 * Sets the `alpnmux_certificate_not_after_seconds` gauge of a certificate now in use.
 *
 * @param d The metrics (none: nothing happens).
 * @param e The entry.
 * @param m The certificate.
 * @example
 * ```ts
 * import { showNotAfter } from "./outcome.ts";
 * showNotAfter({ metrics: null }, {} as never, {} as never); // no metrics: nothing to set
 * ```
 */
export function showNotAfter(d: Pick<OutcomeDeps, "metrics">, e: Entry, m: Material): void {
  d.metrics?.notAfter.labels({ name: e.config.name }).set(m.info.notAfter.getTime() / 1000);
}

/**
 * A new certificate: written, made current, deployed; its last result, metrics and log line.
 *
 * @param d Host, tools, clock, metrics, deploy timeout.
 * @param e The entry.
 * @param got What `obtain` gave.
 * @param reason Why the attempt ran.
 * @param started When it started (epoch ms).
 * @returns Once deployed.
 * @example
 * ```ts
 * import { installObtained } from "./outcome.ts";
 * console.log(typeof installObtained); // "function"
 * ```
 */
export async function installObtained(
  d: OutcomeDeps,
  e: Entry,
  got: Obtained,
  reason: RenewalReason,
  started: number,
): Promise<void> {
  const name = e.config.name;
  await writeMaterial(d, e, got.material);
  e.current = got.material;
  e.obtainedAt = d.clock.now();
  e.failures = 0;
  e.ariPick = null;
  const deployExitCode = await runDeploy(d.host, e.config, d.deployTimeoutMs);
  e.last = {
    at: new Date(d.clock.now()).toISOString(),
    outcome: got.outcome,
    ...(deployExitCode !== undefined ? { deployExitCode } : {}),
  };
  showNotAfter(d, e, got.material);
  d.metrics?.renewals.labels({ name, result: got.outcome }).inc();
  log.info("certificate {name} {result} for {identifiers} in {ms} ms: serial {serial}, notAfter {notAfter}", {
    name,
    result: got.outcome,
    reason,
    identifiers: e.config.identifiers,
    ms: d.clock.now() - started,
    serial: got.material.info.serial,
    notAfter: got.material.info.notAfter.toISOString(),
  });
}

/**
 * A failed order: counted, its retry plan made, the CA's problems kept as the last result.
 *
 * @param d Clock and metrics.
 * @param e The entry.
 * @param err What the order threw.
 * @param reason Why the attempt ran.
 * @param started When it started (epoch ms).
 * @returns When and why to try again.
 * @example
 * ```ts
 * import { recordFailure } from "./outcome.ts";
 * console.log(typeof recordFailure); // "function"
 * ```
 */
export function recordFailure(
  d: Pick<OutcomeDeps, "clock" | "metrics">,
  e: Entry,
  err: unknown,
  reason: RenewalReason,
  started: number,
): RetryPlan {
  const name = e.config.name;
  const f = orderFailure(err);
  e.failures++;
  const plan = retryPlan(d.clock.now(), e.failures, f, () => d.clock.random());
  e.last = {
    at: new Date(d.clock.now()).toISOString(),
    outcome: "failed",
    message: f.message,
    ...(f.problems?.length ? { problems: f.problems } : {}),
  };
  d.metrics?.renewals.labels({ name, result: "failed" }).inc();
  log.error(
    "certificate {name} failed for {identifiers} after {ms} ms: {error}; problems {problems}; retry at {retryAt}",
    {
      name,
      result: "failed",
      reason,
      identifiers: e.config.identifiers,
      ms: d.clock.now() - started,
      error: f.message,
      problems: (f.problems ?? []).map((p) => p.type),
      retryAt: new Date(plan.at).toISOString(),
    },
  );
  return plan;
}

/**
 * The certificate manager: for each configured certificate it uses what is on disk when that
 * is valid, orders a new one through the built-in TLS-ALPN-01 responder when it is missing or
 * does not match the config, and renews it (ARI window when the CA offers it, else 2/3 of the
 * lifetime), one order at a time per certificate, with backoff after failures. After every
 * new certificate it writes the files and runs `deploy`. It is the {@linkcode CertificateSource}
 * of the admin API and the status page. This file holds the collection (start, reload, stop,
 * manual renewal, the status list); what happens to each certificate is in lifecycle.ts.
 *
 * @example
 * ```ts
 * import { CertificateManager } from "@alpnmux/core/certs";
 * // See certs/wire.ts for how the CLI builds one; tests pass fakes for every dependency.
 * console.log(typeof CertificateManager); // "function"
 * ```
 *
 * @module certs/manager
 */

import type { Registry } from "../metrics.ts";
import type { CertClock } from "./clock.ts";
import { type Entry, newEntry, statusOf } from "./entry.ts";
import type { CertHost } from "./host.ts";
import type { CertificateIssuer, CertificateTools } from "./issuer.ts";
import { CertificateLifecycle } from "./lifecycle.ts";
import { type CertificateMetrics, certificateMetrics } from "./metrics.ts";
import type { AcmeConfig, CertificateConfig } from "./schema.ts";
import type { CertificateCoordinator } from "./shared.ts";
import type { CertificateSource, CertificateStatus } from "./status.ts";

/** Where the manager publishes key authorizations (the instance's challenge store). */
export interface ChallengeWriter {
  set(identifier: string, keyAuthorization: string, ttlMs?: number): Promise<void>;
  delete(identifier: string): Promise<boolean>;
}

/** Options of {@linkcode CertificateManager}. */
export interface CertificateManagerOptions {
  readonly acme: AcmeConfig;
  readonly certificates: readonly CertificateConfig[];
  readonly host: CertHost;
  /** Makes the ACME client for the account key (loaded from storage, or made and saved). */
  readonly issuer: (accountKey: CryptoKeyPair) => CertificateIssuer;
  readonly tools: CertificateTools;
  readonly challenges: ChallengeWriter;
  /** Redis lock and shared results; if absent, this instance alone. */
  readonly coordinator?: CertificateCoordinator;
  readonly clock?: CertClock;
  /** Where the two certificate metrics are registered; if absent, none. */
  readonly registry?: Registry;
  readonly crypto?: Crypto;
  /** Lifetime of a published key authorization; default 10 min. */
  readonly challengeTtlMs?: number;
  /** Redis lock TTL, extended every third of it while ordering; default 60 s. */
  readonly lockTtlMs?: number;
  /** How long to wait for another instance's result; default 10 min. */
  readonly sharedWaitMs?: number;
  /** How often to look for it meanwhile; default 5 s. */
  readonly sharedPollMs?: number;
  /** Longest run of `deploy`; default 60 s. */
  readonly deployTimeoutMs?: number;
}

/**
 * The certificate manager.
 *
 * @example
 * ```ts
 * import { CertificateManager, acmeTools } from "@alpnmux/core/certs";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * import { parseConfig } from "@alpnmux/core";
 * const config = parseConfig({
 *   default: "reject",
 *   routes: [{ match: { acme: "exact" }, target: { acme: "builtin" } }],
 *   certificates: [{ name: "web", identifiers: ["example.com"], out: "/etc/ssl/web" }],
 * });
 * const manager = new CertificateManager({
 *   acme: config.acme,
 *   certificates: config.certificates,
 *   host: { acmeFetch: () => fetch, readFile: async () => null, writeFileAtomic: async () => {}, run: async () => ({ code: 0, output: "" }) },
 *   issuer: () => ({ order: () => Promise.reject(new Error("offline")), renewalInfo: async () => null }),
 *   tools: acmeTools(),
 *   challenges: new MemoryChallengeStore(),
 * });
 * console.log(manager.list()[0]?.state); // "pending": start() would order it
 * ```
 */
export class CertificateManager implements CertificateSource {
  readonly #o: CertificateManagerOptions;
  readonly #metrics: CertificateMetrics | null;
  readonly #lifecycle: CertificateLifecycle;
  #entries: Entry[];
  #ready: Promise<void> | null = null;

  /** @param options Config, host, issuer, tools, challenge store. */
  constructor(options: CertificateManagerOptions) {
    this.#o = options;
    this.#metrics = options.registry ? certificateMetrics(options.registry) : null;
    this.#lifecycle = new CertificateLifecycle(options, this.#metrics);
    this.#entries = options.certificates.map((config) => this.#entry(config));
  }

  #entry(config: CertificateConfig): Entry {
    return newEntry(config, this.#o.acme.storage);
  }

  /** Stops an entry for good (removed or changed by a reload). */
  #retire(e: Entry): void {
    e.retired = true;
    e.cancel?.();
    e.cancel = null;
    e.abort?.abort(new Error(`certificate ${e.config.name} was removed or changed in the config`));
  }

  /**
   * Applies a reloaded `certificates:` list (same `acme:`): removed certificates stop (a
   * running order is aborted; their files stay), added ones start as at start-up, changed ones
   * (any field) start afresh from their files: the disk check orders when the identifiers or
   * the key type changed, and keeps the certificate otherwise. Unchanged ones go on untouched.
   *
   * @param certificates The checked list.
   * @returns The names added, removed and changed.
   */
  async update(
    certificates: readonly CertificateConfig[],
  ): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
    const started = this.#ready !== null;
    await this.#ready;
    const old = new Map(this.#entries.map((e) => [e.config.name, e]));
    const out = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
    const fresh: Entry[] = [];
    const next = certificates.map((c) => {
      const prev = old.get(c.name);
      old.delete(c.name);
      if (prev && JSON.stringify(prev.config) === JSON.stringify(c)) return prev;
      if (prev) {
        this.#retire(prev);
        out.changed.push(c.name);
      } else out.added.push(c.name);
      const e = this.#entry(c);
      fresh.push(e);
      return e;
    });
    for (const e of old.values()) {
      this.#retire(e);
      out.removed.push(e.config.name);
      this.#metrics?.notAfter.remove({ name: e.config.name });
    }
    this.#entries = next;
    if (started && !this.#lifecycle.stopped) await Promise.all(fresh.map((e) => this.#lifecycle.start(e)));
    return out;
  }

  /**
   * Reads what is on disk, then orders what is missing (in the background) and schedules the
   * rest. Call it once the listeners are bound, so validations reach the responder.
   */
  start(): Promise<void> {
    this.#ready ??= Promise.all(this.#entries.map((e) => this.#lifecycle.start(e))).then(() => {});
    return this.#ready;
  }

  /** Cancels every timer and aborts running orders; resolves once they have ended. */
  async stop(): Promise<void> {
    this.#lifecycle.stop();
    for (const e of this.#entries) {
      e.cancel?.();
      e.cancel = null;
      e.abort?.abort(new Error("alpnmux is stopping"));
    }
    await Promise.all(this.#entries.map((e) => e.running?.catch(() => {})));
  }

  /** Resolves once no order is running (for tests and `stop`). */
  async idle(): Promise<void> {
    await this.#ready;
    while (this.#entries.some((e) => e.running)) {
      await Promise.all(this.#entries.map((e) => e.running?.catch(() => {})));
    }
  }

  list(): readonly CertificateStatus[] {
    return this.#entries.map((e) => statusOf(e));
  }

  /**
   * Orders `name` now. While an order for it runs, no second one starts: the running status
   * comes back (the admin API still answers 202).
   */
  async renew(name: string): Promise<CertificateStatus> {
    const e = this.#entries.find((x) => x.config.name === name);
    if (!e) throw new RangeError(`no certificate named ${JSON.stringify(name)}`);
    await this.start();
    if (!e.running && !this.#lifecycle.stopped) this.#lifecycle.run(e, "manual");
    return statusOf(e);
  }
}

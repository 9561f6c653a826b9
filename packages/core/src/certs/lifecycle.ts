/**
 * The lifecycle of one configured certificate, as the manager drives it: the disk check at
 * start, the renewal schedule (ARI window when the CA offers it, else 2/3 of the lifetime), one
 * attempt at a time (order, or take another instance's result), writing the files, `deploy`,
 * and the retry plan after a failure. {@linkcode CertificateManager} holds the collection (start,
 * reload, stop, the admin API's view) and hands each {@linkcode Entry} to this.
 *
 * @example
 * ```ts
 * import { CertificateLifecycle } from "./lifecycle.ts";
 * console.log(typeof CertificateLifecycle); // "function"
 * ```
 *
 * @module certs/lifecycle
 */

import { getLogger } from "@logtape/logtape";
import { AccountStore } from "./account.ts";
import { armTimer, type CertClock, systemClock } from "./clock.ts";
import { runDeploy } from "./deploy.ts";
import { type Entry, type LastResult, saveState } from "./entry.ts";
import type { CertificateIssuer, TlsAlpnSolver } from "./issuer.ts";
import type { CertificateManagerOptions } from "./manager.ts";
import { findOnDisk, type Inspection } from "./material.ts";
import type { CertificateMetrics } from "./metrics.ts";
import { obtain } from "./obtain.ts";
import { installObtained, type OutcomeDeps, recordFailure, showNotAfter, writeMaterial } from "./outcome.ts";
import { ARI_MIN_AGE_MS, ariRecheckAt, ariRenewalAt, lifetimeRenewalAt } from "./schedule.ts";
import { type CertificateCoordinator, localCoordinator } from "./shared.ts";
import type { RenewalReason } from "./status.ts";
import { joinPath, readPair, readText } from "./storage.ts";

const log = getLogger(["alpnmux", "certs"]);

/**
 * Starts, schedules, renews and retries the certificates of one manager; shared by all its
 * entries (the account, the clock, the coordinator), stopped once with it.
 *
 * @example
 * ```ts
 * import { CertificateLifecycle } from "./lifecycle.ts";
 * import { acmeTools } from "./wire.ts";
 * const lifecycle = new CertificateLifecycle({
 *   acme: { directory: "https://ca.test/dir", storage: "/tmp/acme" } as never,
 *   certificates: [],
 *   host: { acmeFetch: () => fetch, readFile: async () => null, writeFileAtomic: async () => {}, run: async () => ({ code: 0, output: "" }) },
 *   issuer: () => ({ order: () => Promise.reject(new Error("offline")), renewalInfo: async () => null }),
 *   tools: acmeTools(),
 *   challenges: { set: async () => {}, delete: async () => true },
 * }, null);
 * lifecycle.stop();
 * console.log(lifecycle.stopped); // true
 * ```
 */
export class CertificateLifecycle {
  readonly #o: CertificateManagerOptions;
  readonly #clock: CertClock;
  readonly #crypto: Crypto;
  readonly #coord: CertificateCoordinator;
  readonly #account: AccountStore;
  /** For outcome.ts. */
  readonly #deps: OutcomeDeps;
  #stopped = false;
  /** Aborted by `stop()`: requests outside an order (ARI). */
  readonly #life = new AbortController();

  /**
   * @param options The manager's options.
   * @param metrics Where the certificate metrics go; null for none.
   */
  constructor(options: CertificateManagerOptions, metrics: CertificateMetrics | null) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#crypto = options.crypto ?? globalThis.crypto;
    this.#coord = options.coordinator ?? localCoordinator;
    this.#account = new AccountStore({
      host: options.host,
      tools: options.tools,
      storage: options.acme.storage,
      directory: options.acme.directory,
      issuer: options.issuer,
      crypto: this.#crypto,
    });
    this.#deps = {
      host: options.host,
      tools: options.tools,
      clock: this.#clock,
      metrics,
      deployTimeoutMs: options.deployTimeoutMs,
    };
  }

  /** Whether {@linkcode CertificateLifecycle.stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** No attempt starts and no timer is armed from now on; a pending ARI request is aborted. */
  stop(): void {
    this.#stopped = true;
    this.#life.abort(new Error("alpnmux is stopping"));
  }

  /**
   * Reads what is on disk for `e`, then orders when it is missing or unusable (in the
   * background) or schedules its renewal.
   *
   * @param e The entry.
   */
  async start(e: Entry): Promise<void> {
    let found: Inspection = { kind: "absent" };
    try {
      const want = { identifiers: e.ids, keyType: e.config.keyType };
      const dirs = { storage: e.dir, out: e.config.out };
      found = await findOnDisk(this.#o.host, dirs, want, this.#o.tools, this.#clock.now(), this.#crypto);
      const state = await readText(this.#o.host, joinPath(e.dir, "state.json"));
      if (state !== null) e.last = (JSON.parse(state) as { lastResult?: LastResult }).lastResult ?? null;
    } catch (err) {
      log.warn("certificate {name}: cannot read its files: {error}", { name: e.config.name, error: err });
    }
    if (found.kind === "valid") {
      e.current = found.material;
      showNotAfter(this.#deps, e, found.material);
      try {
        const out = await readPair(this.#o.host, e.config.out);
        if (out?.fullchain !== found.material.fullchain) {
          await writeMaterial(this.#deps, e, found.material);
          await runDeploy(this.#o.host, e.config, this.#o.deployTimeoutMs);
        }
      } catch (err) {
        log.error("certificate {name}: cannot write {out}: {error}", {
          name: e.config.name,
          out: e.config.out,
          error: err,
        });
      }
      log.info("certificate {name}: using the one on disk (serial {serial}, notAfter {notAfter})", {
        name: e.config.name,
        serial: found.material.info.serial,
        notAfter: found.material.info.notAfter.toISOString(),
      });
    } else if (found.kind === "mismatch" || found.kind === "unreadable") {
      log.info("certificate {name}: the one on disk is not usable ({why}): ordering", {
        name: e.config.name,
        why: found.why,
      });
    }
    if (this.#stopped) return;
    if (e.current) {
      // Another instance may have renewed it while this one was down.
      if (this.#coord.shared) this.run(e, "lifetime", true);
      else await this.#schedule(e);
    } else this.run(e, found.kind === "mismatch" ? "identifiers-changed" : "missing");
  }

  /**
   * Shows `at` as the next renewal and calls `fn` at `fireAt` (earlier when ARI must be asked
   * again first).
   */
  #arm(
    e: Entry,
    at: number,
    reason: RenewalReason,
    fn: () => void,
    fireAt = at,
    explanationUrl?: string,
  ): void {
    e.cancel?.();
    e.cancel = null;
    if (this.#stopped || e.retired) return;
    e.next = { at: new Date(at).toISOString(), reason, ...(explanationUrl ? { explanationUrl } : {}) };
    e.cancel = armTimer(this.#clock, Math.min(at, fireAt), () => {
      e.cancel = null;
      fn();
    });
  }

  /** Schedules the next renewal of a valid certificate: ARI when offered, else its lifetime. */
  async #schedule(e: Entry): Promise<void> {
    const m = e.current;
    if (!m || this.#stopped || e.retired) return;
    const generation = e.generation;
    const random = () => this.#clock.random();
    let ri: Awaited<ReturnType<CertificateIssuer["renewalInfo"]>> = null;
    let ariError = false;
    try {
      ri = await (await this.#account.issuer()).renewalInfo(m.fullchain, { signal: this.#life.signal });
    } catch (err) {
      if (this.#stopped) return;
      ariError = true;
      log.warn("certificate {name}: renewal information unavailable: {error}", {
        name: e.config.name,
        error: err,
      });
    }
    // A renewal started meanwhile (POST renew) schedules itself.
    if (this.#stopped || e.generation !== generation) return;
    const now = this.#clock.now();
    if (ri) {
      const same = e.ariPick !== null && e.ariPick.start === ri.start && e.ariPick.end === ri.end;
      const floor = e.obtainedAt === null ? now : e.obtainedAt + ARI_MIN_AGE_MS;
      const at = Math.max(floor, same && e.ariPick ? e.ariPick.at : ariRenewalAt(ri, now, random));
      e.ariPick = { start: ri.start, end: ri.end, at };
      const recheck = ariRecheckAt(now, ri.retryAfterMs);
      const fn = recheck < at ? () => void this.#schedule(e) : () => this.run(e, "ari-window");
      this.#arm(e, at, "ari-window", fn, recheck, ri.explanationUrl);
      return;
    }
    e.ariPick = null;
    const at = lifetimeRenewalAt(m.info.notBefore.getTime(), m.info.notAfter.getTime(), random);
    // ARI failed (network): ask again in 6 h; a CA without ARI (null) is not asked again.
    const recheck = ariError ? ariRecheckAt(now) : at;
    const fn = recheck < at ? () => void this.#schedule(e) : () => this.run(e, "lifetime");
    this.#arm(e, at, "lifetime", fn, recheck);
  }

  #solver(): TlsAlpnSolver {
    const ttl = this.#o.challengeTtlMs ?? 600_000;
    return {
      present: (id, ka) => this.#o.challenges.set(id.value, ka, ttl),
      cleanup: async (id) => {
        await this.#o.challenges.delete(id.value).catch(() => false);
      },
    };
  }

  /**
   * Starts one attempt (never two at once for a certificate); `sharedOnly` only looks for
   * another instance's newer certificate.
   *
   * @param e The entry.
   * @param reason Why (shown in the status and logs).
   * @param sharedOnly Take only a shared result, do not order.
   */
  run(e: Entry, reason: RenewalReason, sharedOnly = false): void {
    if (e.running || this.#stopped || e.retired) return;
    e.cancel?.();
    e.cancel = null;
    e.renewing = !sharedOnly;
    e.generation++;
    const p = this.#attempt(e, reason, sharedOnly).finally(() => {
      e.running = null;
      e.renewing = false;
    });
    e.running = p;
  }

  async #attempt(e: Entry, reason: RenewalReason, sharedOnly: boolean): Promise<void> {
    const started = this.#clock.now();
    const abort = new AbortController();
    e.abort = abort;
    const name = e.config.name;
    const profile = e.config.profile ?? this.#o.acme.profile;
    try {
      const issuer = sharedOnly ? null : await this.#account.issuer();
      if (issuer) await this.#account.register(issuer);
      const got = await obtain({
        name,
        ids: e.ids,
        keyType: e.config.keyType,
        current: e.current,
        reason,
        sharedOnly,
        issuer,
        tools: this.#o.tools,
        coordinator: this.#coord,
        solver: this.#solver(),
        clock: this.#clock,
        crypto: this.#crypto,
        signal: abort.signal,
        lockTtlMs: this.#o.lockTtlMs ?? 60_000,
        sharedWaitMs: this.#o.sharedWaitMs ?? 600_000,
        sharedPollMs: this.#o.sharedPollMs ?? 5_000,
        ...(profile !== undefined ? { profile } : {}),
        ari: e.ariPick !== null,
      });
      if (got === null) {
        await this.#schedule(e); // sharedOnly and nothing newer
        return;
      }
      await installObtained(this.#deps, e, got, reason, started);
      e.renewing = false;
      await this.#schedule(e);
    } catch (err) {
      if (this.#stopped || e.retired) return;
      if (sharedOnly) {
        log.warn("certificate {name}: cannot read the shared certificate: {error}", { name, error: err });
        e.renewing = false;
        await this.#schedule(e);
        return;
      }
      const plan = recordFailure(this.#deps, e, err, reason, started);
      e.renewing = false;
      this.#arm(e, plan.at, plan.reason, () => this.run(e, plan.reason));
    } finally {
      e.abort = null;
      await saveState(this.#o.host, e);
    }
  }
}

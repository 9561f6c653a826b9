/**
 * The certificate manager: for each configured certificate it uses what is on disk when that
 * is valid, orders a new one through the built-in TLS-ALPN-01 responder when it is missing or
 * does not match the config, and renews it (ARI window when the CA offers it, else 2/3 of the
 * lifetime), one order at a time per certificate, with backoff after failures. After every
 * new certificate it writes the files and runs `deploy`. It is the {@linkcode CertificateSource}
 * of the admin API and the status page.
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

import { getLogger } from "@logtape/logtape";
import type { Registry } from "../metrics.ts";
import { AccountStore } from "./account.ts";
import { armTimer, type CertClock, systemClock } from "./clock.ts";
import { runDeploy } from "./deploy.ts";
import { type Entry, type LastResult, newEntry, saveState, statusOf } from "./entry.ts";
import type { CertHost } from "./host.ts";
import { type CertificateIssuer, type CertificateTools, orderFailure, type TlsAlpnSolver } from "./issuer.ts";
import { findOnDisk, type Inspection, type Material } from "./material.ts";
import { type CertificateMetrics, certificateMetrics } from "./metrics.ts";
import { obtain } from "./obtain.ts";
import { ARI_MIN_AGE_MS, ariRecheckAt, ariRenewalAt, lifetimeRenewalAt, retryPlan } from "./schedule.ts";
import type { AcmeConfig, CertificateConfig } from "./schema.ts";
import { type CertificateCoordinator, localCoordinator } from "./shared.ts";
import type { CertificateSource, CertificateStatus, RenewalReason } from "./status.ts";
import { joinPath, readPair, readText, writeCertificate } from "./storage.ts";

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

const log = getLogger(["alpnmux", "certs"]);

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
  readonly #clock: CertClock;
  readonly #crypto: Crypto;
  readonly #coord: CertificateCoordinator;
  readonly #metrics: CertificateMetrics | null;
  #entries: Entry[];
  readonly #account: AccountStore;
  #ready: Promise<void> | null = null;
  #stopped = false;
  /** Aborted by `stop()`: requests outside an order (ARI). */
  readonly #life = new AbortController();

  /** @param options Config, host, issuer, tools, challenge store. */
  constructor(options: CertificateManagerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#crypto = options.crypto ?? globalThis.crypto;
    this.#coord = options.coordinator ?? localCoordinator;
    this.#metrics = options.registry ? certificateMetrics(options.registry) : null;
    this.#account = new AccountStore({
      host: options.host,
      tools: options.tools,
      storage: options.acme.storage,
      directory: options.acme.directory,
      issuer: options.issuer,
      crypto: this.#crypto,
    });
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
    if (started && !this.#stopped) await Promise.all(fresh.map((e) => this.#startOne(e)));
    return out;
  }

  /**
   * Reads what is on disk, then orders what is missing (in the background) and schedules the
   * rest. Call it once the listeners are bound, so validations reach the responder.
   */
  start(): Promise<void> {
    this.#ready ??= Promise.all(this.#entries.map((e) => this.#startOne(e))).then(() => {});
    return this.#ready;
  }

  /** Cancels every timer and aborts running orders; resolves once they have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#life.abort(new Error("alpnmux is stopping"));
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
    if (!e.running && !this.#stopped) this.#run(e, "manual");
    return statusOf(e);
  }

  async #startOne(e: Entry): Promise<void> {
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
      this.#showNotAfter(e, found.material);
      try {
        const out = await readPair(this.#o.host, e.config.out);
        if (out?.fullchain !== found.material.fullchain) {
          await this.#write(e, found.material);
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
      if (this.#coord.shared) this.#run(e, "lifetime", true);
      else await this.#schedule(e);
    } else this.#run(e, found.kind === "mismatch" ? "identifiers-changed" : "missing");
  }

  /** Writes a certificate and its key to storage and to `out` (state.json is saveState's). */
  #write(e: Entry, m: Material): Promise<void> {
    const dirs = { storage: e.dir, out: e.config.out };
    return writeCertificate(this.#o.host, dirs, m.fullchain, m.privkey, this.#o.tools.splitPemChain);
  }

  /** The `alpnmux_certificate_not_after_seconds` gauge of a certificate now in use. */
  #showNotAfter(e: Entry, m: Material): void {
    this.#metrics?.notAfter.labels({ name: e.config.name }).set(m.info.notAfter.getTime() / 1000);
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
      const fn = recheck < at ? () => void this.#schedule(e) : () => this.#run(e, "ari-window");
      this.#arm(e, at, "ari-window", fn, recheck, ri.explanationUrl);
      return;
    }
    e.ariPick = null;
    const at = lifetimeRenewalAt(m.info.notBefore.getTime(), m.info.notAfter.getTime(), random);
    // ARI failed (network): ask again in 6 h; a CA without ARI (null) is not asked again.
    const recheck = ariError ? ariRecheckAt(now) : at;
    const fn = recheck < at ? () => void this.#schedule(e) : () => this.#run(e, "lifetime");
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

  /** Starts one attempt (never two at once for a certificate). */
  #run(e: Entry, reason: RenewalReason, sharedOnly = false): void {
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
      await this.#write(e, got.material);
      e.current = got.material;
      e.obtainedAt = this.#clock.now();
      e.failures = 0;
      e.ariPick = null;
      const deployExitCode = await runDeploy(this.#o.host, e.config, this.#o.deployTimeoutMs);
      e.last = {
        at: new Date(this.#clock.now()).toISOString(),
        outcome: got.outcome,
        ...(deployExitCode !== undefined ? { deployExitCode } : {}),
      };
      this.#showNotAfter(e, got.material);
      this.#metrics?.renewals.labels({ name, result: got.outcome }).inc();
      log.info(
        "certificate {name} {result} for {identifiers} in {ms} ms: serial {serial}, notAfter {notAfter}",
        {
          name,
          result: got.outcome,
          reason,
          identifiers: e.config.identifiers,
          ms: this.#clock.now() - started,
          serial: got.material.info.serial,
          notAfter: got.material.info.notAfter.toISOString(),
        },
      );
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
      const f = orderFailure(err);
      e.failures++;
      const plan = retryPlan(this.#clock.now(), e.failures, f, () => this.#clock.random());
      e.last = {
        at: new Date(this.#clock.now()).toISOString(),
        outcome: "failed",
        message: f.message,
        ...(f.problems?.length ? { problems: f.problems } : {}),
      };
      this.#metrics?.renewals.labels({ name, result: "failed" }).inc();
      log.error(
        "certificate {name} failed for {identifiers} after {ms} ms: {error}; problems {problems}; retry at {retryAt}",
        {
          name,
          result: "failed",
          reason,
          identifiers: e.config.identifiers,
          ms: this.#clock.now() - started,
          error: f.message,
          problems: (f.problems ?? []).map((p) => p.type),
          retryAt: new Date(plan.at).toISOString(),
        },
      );
      e.renewing = false;
      this.#arm(e, plan.at, plan.reason, () => this.#run(e, plan.reason));
    } finally {
      e.abort = null;
      await saveState(this.#o.host, e);
    }
  }
}

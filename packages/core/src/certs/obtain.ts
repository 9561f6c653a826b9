/**
 * One attempt to get a new certificate for a configured name: take another instance's newer
 * result when there is one (outcome `shared`); else take the lock (always free for one
 * instance), order with a fresh key (outcome `issued`) and publish the result; when another
 * instance holds the lock, wait for its result.
 *
 * @example
 * ```ts
 * import { obtain } from "@alpnmux/core/certs";
 * console.log(typeof obtain); // "function": see certs/manager.ts
 * ```
 *
 * @module certs/obtain
 */

import { getLogger } from "@logtape/logtape";
import type { CertClock } from "./clock.ts";
import type { AcmeIdentifier, CertificateIssuer, CertificateTools, TlsAlpnSolver } from "./issuer.ts";
import { inspect, type Material, missingIdentifiers } from "./material.ts";
import type { KeyType } from "./schema.ts";
import type { CertificateCoordinator } from "./shared.ts";
import type { RenewalReason } from "./status.ts";

/** What {@linkcode obtain} needs. */
export interface ObtainOptions {
  readonly name: string;
  readonly ids: readonly AcmeIdentifier[];
  readonly keyType: KeyType;
  readonly current: Material | null;
  readonly reason: RenewalReason;
  /** Only look at the shared store (at start): null when it holds nothing newer. */
  readonly sharedOnly: boolean;
  readonly issuer: CertificateIssuer | null;
  readonly tools: CertificateTools;
  readonly coordinator: CertificateCoordinator;
  readonly solver: TlsAlpnSolver;
  readonly clock: CertClock;
  readonly crypto: Crypto;
  readonly signal: AbortSignal;
  readonly profile?: string;
  /** Whether the CA offers ARI (then `replaces` names the current certificate). */
  readonly ari: boolean;
  readonly lockTtlMs: number;
  readonly sharedWaitMs: number;
  readonly sharedPollMs: number;
}

/** A new certificate and how it came. */
export interface Obtained {
  readonly outcome: "issued" | "shared";
  readonly material: Material;
}

/** The shared certificate when it is usable and newer than `current`. */
async function newerShared(o: ObtainOptions, than: Material | null): Promise<Material | null> {
  if (!o.coordinator.shared) return null;
  const s = await o.coordinator.read(o.name);
  if (s === null) return null;
  const r = await inspect(s, { identifiers: o.ids, keyType: o.keyType }, o.tools, o.clock.now(), o.crypto);
  if (r.kind !== "valid") return null;
  if (than && r.material.info.notAfter.getTime() <= than.info.notAfter.getTime()) return null;
  return r.material;
}

function sleep(clock: CertClock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const h = clock.setTimer(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clock.clearTimer(h);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Gets a new certificate, or null (only with `sharedOnly`) when the shared store holds none
 * newer.
 *
 * @param o What to get, and how.
 * @returns The certificate and its outcome.
 * @throws What the issuer threw (an `AcmeError`), or an Error when another instance held the
 *   lock and published nothing in time.
 * @example
 * ```ts
 * import { obtain } from "@alpnmux/core/certs";
 * // The manager calls it with its issuer, tools, coordinator and solver (see CertificateManager).
 * console.log(obtain.length); // 1: one options object
 * ```
 */
export async function obtain(o: ObtainOptions): Promise<Obtained | null> {
  // A manual renewal orders whatever the others did; any other one first takes theirs.
  if (o.reason !== "manual") {
    const s = await newerShared(o, o.current);
    if (s) return { outcome: "shared", material: s };
  }
  if (o.sharedOnly) return null;
  const lock = await o.coordinator.lock(o.name, o.lockTtlMs);
  if (lock === null) {
    const until = o.clock.now() + o.sharedWaitMs;
    while (o.clock.now() < until) {
      await sleep(o.clock, o.sharedPollMs, o.signal);
      const s = await newerShared(o, o.current);
      if (s) return { outcome: "shared", material: s };
    }
    throw new Error(
      `another instance holds the lock for ${o.name} and published no certificate in ${Math.round(o.sharedWaitMs / 1000)} s`,
    );
  }
  let extender: unknown;
  let done = false;
  const keepAlive = () => {
    if (done) return;
    extender = o.clock.setTimer(
      () => {
        lock.extend().then(
          (held) => held && keepAlive(),
          () => keepAlive(),
        );
      },
      Math.max(1, Math.floor(o.lockTtlMs / 3)),
    );
  };
  keepAlive();
  try {
    if (o.reason !== "manual") {
      const s = await newerShared(o, o.current); // published while we took the lock
      if (s) return { outcome: "shared", material: s };
    }
    const issuer = o.issuer;
    if (issuer === null) throw new Error("no ACME issuer");
    const keys = await o.tools.generateCertificateKey(o.keyType);
    const csr = await o.tools.createCsr(o.ids, keys, o.keyType);
    const privkey = await o.tools.exportPrivateKeyPem(keys);
    const replaces = o.ari ? o.current?.info.ariId : null;
    const issued = await issuer.order({
      identifiers: o.ids,
      csr,
      solver: o.solver,
      signal: o.signal,
      ...(o.profile !== undefined ? { profile: o.profile } : {}),
      ...(replaces ? { replaces } : {}),
    });
    const info = o.tools.parseCertificate(issued.pem);
    const lacking = missingIdentifiers(o.ids, info.identifiers);
    if (lacking.length) {
      throw new Error(`the CA issued a certificate without ${lacking.map((i) => i.value).join(", ")}`);
    }
    const material: Material = { fullchain: issued.pem, privkey, info };
    if (o.coordinator.shared) {
      // The certificate is ours whatever Redis says: the others order their own if they must.
      const shared = { fullchain: issued.pem, privkey, notAfter: info.notAfter.toISOString() };
      await o.coordinator.publish(o.name, shared).catch((e: unknown) =>
        getLogger(["alpnmux", "certs"]).warn("certificate {name}: cannot share it through Redis: {error}", {
          name: o.name,
          error: e,
        }),
      );
    }
    return { outcome: "issued", material };
  } finally {
    done = true;
    o.clock.clearTimer(extender);
    await lock.release().catch(() => {});
  }
}

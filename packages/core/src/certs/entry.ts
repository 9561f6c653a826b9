/**
 * One configured certificate as the manager tracks it ({@linkcode Entry}): what is in use, the
 * timer, the running order, the last result. {@linkcode statusOf} is its public view (the
 * `CertificateStatus` of the admin API) and {@linkcode saveState} writes it to `state.json`.
 *
 * @example
 * ```ts
 * import { newEntry, statusOf } from "@alpnmux/core/certs";
 * const e = newEntry({ name: "web", identifiers: ["example.com"], out: "/etc/ssl/web", keyType: "ecdsa-p256" }, "/var/lib/alpnmux");
 * console.log(statusOf(e).state, e.dir); // "pending" "/var/lib/alpnmux/certificates/web"
 * ```
 *
 * @module certs/entry
 */

import { getLogger } from "@logtape/logtape";
import type { CertHost } from "./host.ts";
import type { AcmeIdentifier } from "./issuer.ts";
import { configuredIdentifiers, type Material } from "./material.ts";
import type { CertificateConfig } from "./schema.ts";
import type { CertificateStatus } from "./status.ts";
import { certificateDir, joinPath, PRIVATE_MODE } from "./storage.ts";

/** `CertificateStatus["lastResult"]` when set. */
export type LastResult = NonNullable<CertificateStatus["lastResult"]>;
/** `CertificateStatus["nextRenewal"]` when set. */
export type NextRenewal = NonNullable<CertificateStatus["nextRenewal"]>;

/** The manager's state of one certificate. */
export interface Entry {
  /** Its config entry. */
  readonly config: CertificateConfig;
  readonly ids: AcmeIdentifier[];
  readonly dir: string;
  current: Material | null;
  renewing: boolean;
  next: NextRenewal | null;
  last: LastResult | null;
  failures: number;
  cancel: (() => void) | null;
  running: Promise<void> | null;
  abort: AbortController | null;
  ariPick: { start: number; end: number; at: number } | null;
  /** Counts attempts, so a schedule computed across an attempt's start is dropped. */
  generation: number;
  /** When this process got the certificate in use (null: found on disk). */
  obtainedAt: number | null;
  /** Removed or replaced by a reload: it never schedules again. */
  retired: boolean;
}

/**
 * A fresh entry: nothing in use, nothing scheduled.
 *
 * @param config The config entry.
 * @param storage `acme.storage`.
 * @returns The entry.
 * @example
 * ```ts
 * import { newEntry } from "@alpnmux/core/certs";
 * newEntry({ name: "web", identifiers: ["example.com"], out: "/etc/ssl/web", keyType: "ecdsa-p256" }, "/s").ids; // [{ type: "dns", value: "example.com" }]
 * ```
 */
export function newEntry(config: CertificateConfig, storage: string): Entry {
  return {
    config,
    ids: configuredIdentifiers(config.identifiers),
    dir: certificateDir(storage, config.name),
    current: null,
    renewing: false,
    next: null,
    last: null,
    failures: 0,
    cancel: null,
    running: null,
    abort: null,
    ariPick: null,
    generation: 0,
    obtainedAt: null,
    retired: false,
  };
}

/**
 * The status of an entry, as `GET /v1/certificates` shows it.
 *
 * @param e The entry.
 * @returns Plain JSON.
 * @example
 * ```ts
 * import { newEntry, statusOf } from "@alpnmux/core/certs";
 * const e = newEntry({ name: "web", identifiers: ["example.com"], out: "/etc/ssl/web", keyType: "ecdsa-p256" }, "/s");
 * e.renewing = true;
 * statusOf(e).state; // "renewing"
 * ```
 */
export function statusOf(e: Entry): CertificateStatus {
  const c = e.current?.info;
  return {
    name: e.config.name,
    identifiers: [...e.config.identifiers],
    state: e.renewing ? "renewing" : c ? "valid" : e.last?.outcome === "failed" ? "failed" : "pending",
    certificate: c
      ? {
          notBefore: c.notBefore.toISOString(),
          notAfter: c.notAfter.toISOString(),
          serial: c.serial,
          issuer: c.issuer,
          identifiers: c.identifiers.map((i) => i.value),
        }
      : null,
    nextRenewal: e.renewing ? null : e.next,
    lastResult: e.last,
  };
}

/**
 * Writes `state.json` (serial, notAfter, next renewal, last result) in the entry's storage
 * directory; a failure is logged, never thrown.
 *
 * @param host Writes the file.
 * @param e The entry.
 * @example
 * ```ts
 * import { newEntry, saveState } from "@alpnmux/core/certs";
 * const written: string[] = [];
 * await saveState({ writeFileAtomic: async (p) => { written.push(p); } }, newEntry({ name: "web", identifiers: ["example.com"], out: "/etc/ssl/web", keyType: "ecdsa-p256" }, "/s"));
 * console.log(written); // ["/s/certificates/web/state.json"]
 * ```
 */
export async function saveState(host: Pick<CertHost, "writeFileAtomic">, e: Entry): Promise<void> {
  const c = e.current?.info;
  const doc = {
    name: e.config.name,
    identifiers: e.config.identifiers,
    certificate: c ? { serial: c.serial, notAfter: c.notAfter.toISOString() } : null,
    nextRenewal: e.next,
    lastResult: e.last,
  };
  try {
    await host.writeFileAtomic(
      joinPath(e.dir, "state.json"),
      `${JSON.stringify(doc, null, 2)}\n`,
      PRIVATE_MODE,
    );
  } catch (err) {
    getLogger(["alpnmux", "certs"]).warn("certificate {name}: cannot write state.json: {error}", {
      name: e.config.name,
      error: err,
    });
  }
}

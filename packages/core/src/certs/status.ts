/**
 * What the certificate manager reports about each configured certificate: the shape of
 * `GET /v1/certificates`, `alpnmux certs list` and the status page. Plain JSON (ISO dates), so
 * the same value crosses the admin API, the CLI and the workers' control channel unchanged.
 *
 * @module certs/status
 */

/** One problem document from the CA (RFC 8555 §6.7, RFC 7807), as the CA sent it. */
export interface AcmeProblemDocument {
  /** e.g. `urn:ietf:params:acme:error:unauthorized`. */
  readonly type: string;
  readonly detail?: string;
  readonly status?: number;
  /** The identifier the problem is about (a subproblem, or an authorization's error). */
  readonly identifier?: { readonly type: "dns" | "ip"; readonly value: string };
  readonly subproblems?: readonly AcmeProblemDocument[];
}

/** Why the next renewal is when it is. Closed union. */
export type RenewalReason =
  /** No certificate on disk (or in the shared store) for these identifiers: order now. */
  | "missing"
  /** The certificate on disk does not cover the configured identifiers (or key type). */
  | "identifiers-changed"
  /** A random time inside the CA's ARI window (RFC 9773). */
  | "ari-window"
  /** No ARI: 2/3 of the lifetime (1/2 for lifetimes of 10 days or less), with jitter. */
  | "lifetime"
  /** The last attempt failed: exponential backoff. */
  | "retry-backoff"
  /** The CA said when to come back (`Retry-After`, or a `rateLimited` problem). */
  | "retry-after"
  /** Someone asked (`POST /v1/certificates/{name}/renew`, `alpnmux certs renew`). */
  | "manual";

/** The outcome of the last order attempt. Closed union. */
export type RenewalOutcome =
  | "issued"
  /** Another instance holds the Redis lock and issued it; this one took the shared result. */
  | "shared"
  | "failed";

/** The status of one configured certificate. */
export interface CertificateStatus {
  /** `certificates[].name`. */
  readonly name: string;
  /** The configured identifiers, DNS names and IP addresses, as configured. */
  readonly identifiers: readonly string[];
  /** `pending`: none yet; `valid`: one in use; `renewing`: an order is running; `failed`: none and the last order failed. */
  readonly state: "pending" | "valid" | "renewing" | "failed";
  /** The certificate in use, or null when there is none yet. */
  readonly certificate: null | {
    readonly notBefore: string;
    readonly notAfter: string;
    /** Lower-case hex, no separators. */
    readonly serial: string;
    readonly issuer: string;
    readonly identifiers: readonly string[];
  };
  /** When the manager will order next and why, or null while an order runs. */
  readonly nextRenewal: null | {
    readonly at: string;
    readonly reason: RenewalReason;
    /** ARI `explanationURL`, when the CA gave one. */
    readonly explanationUrl?: string;
  };
  /** The last order attempt, or null before the first. */
  readonly lastResult: null | {
    readonly at: string;
    readonly outcome: RenewalOutcome;
    /** One line for humans, e.g. `authorization for bad.example failed: unauthorized: ...`. */
    readonly message?: string;
    /** The CA's problem documents, one per failed identifier where the CA named it. */
    readonly problems?: readonly AcmeProblemDocument[];
    /** The deploy command's exit code, when one ran. */
    readonly deployExitCode?: number;
  };
}

/**
 * The certificate manager as the admin API, the CLI and the status page see it.
 *
 * @example
 * ```ts
 * import type { CertificateSource } from "@alpnmux/core/certs/status";
 * const none: CertificateSource = {
 *   list: () => [],
 *   renew: (name) => Promise.reject(new RangeError(`no certificate named ${name}`)),
 * };
 * console.log(none.list().length); // 0
 * ```
 */
export interface CertificateSource {
  /** Every configured certificate, in config order. */
  list(): readonly CertificateStatus[];
  /**
   * Orders a new certificate for `name` now (whatever the schedule says) and resolves with its
   * status once the attempt has started; rejects with a `RangeError` for an unknown name.
   */
  renew(name: string): Promise<CertificateStatus>;
}

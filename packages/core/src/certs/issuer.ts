/**
 * The narrow seams the certificate manager orders through: {@linkcode CertificateIssuer} (what
 * it needs of `AcmeClient`) and {@linkcode CertificateTools} (keys, CSRs and certificate
 * parsing from `@alpnmux/core/acme`). The order types are the ACME module's own (re-exported,
 * type-only), so the real client and functions plug in as they are and unit tests use fakes.
 *
 * @example
 * ```ts
 * import type { CertificateIssuer } from "@alpnmux/core/certs";
 * const offline: CertificateIssuer = {
 *   order: () => Promise.reject(new Error("offline")),
 *   renewalInfo: () => Promise.resolve(null),
 * };
 * console.log(await offline.renewalInfo("")); // null
 * ```
 *
 * @module certs/issuer
 */

// Type-only: erased at runtime, so this file (and the manager) does not load the ACME module
// or @peculiar/x509; wire.ts is what brings the real client in.
import type { CertificateInfo } from "../acme/certificate.ts";
import type { RenewalInfo } from "../acme/client.ts";
import type { IssuedCertificate, OrderRequest, TlsAlpnSolver } from "../acme/order-flow.ts";
import type { AcmeIdentifier } from "../acme/resources.ts";
import type { KeyType } from "./schema.ts";
import type { AcmeProblemDocument } from "./status.ts";

export type { AcmeIdentifier, CertificateInfo, IssuedCertificate, OrderRequest, RenewalInfo, TlsAlpnSolver };

/** What the manager needs of an ACME client (`AcmeClient` has it). */
export interface CertificateIssuer {
  /** The manager reads only the chain and the order URL of what `AcmeClient.order` gives back. */
  order(request: OrderRequest): Promise<Pick<IssuedCertificate, "pem" | "orderUrl">>;
  /** null when the CA offers no ARI; `signal` aborts it (at stop). */
  renewalInfo(
    certificatePem: string,
    options?: { readonly signal?: AbortSignal },
  ): Promise<RenewalInfo | null>;
  /** Registers (or finds) the account; its URL goes in `account.json`. */
  accountUrl?(): Promise<string>;
}

/** Keys, CSRs and certificate parsing (the ACME module's functions). */
export interface CertificateTools {
  generateAccountKey(): Promise<CryptoKeyPair>;
  generateCertificateKey(type: KeyType): Promise<CryptoKeyPair>;
  exportPrivateKeyPem(keys: CryptoKeyPair): Promise<string>;
  importPrivateKeyPem(pem: string, type: KeyType): Promise<CryptoKeyPair>;
  createCsr(identifiers: readonly AcmeIdentifier[], keys: CryptoKeyPair, type: KeyType): Promise<Uint8Array>;
  parseCertificate(pem: string): CertificateInfo;
  splitPemChain(pem: string): string[];
}

/** What the manager reads from a failed order (`AcmeError` has it; any error may stand in). */
export interface OrderFailure {
  readonly message: string;
  readonly code?: string;
  readonly problem?: AcmeProblemDocument;
  readonly problems?: readonly AcmeProblemDocument[];
  readonly retryAfterMs?: number;
  readonly rateLimited?: boolean;
}

const RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited";

/**
 * Reads what an order's error tells: the message, the CA's problems (one per identifier where
 * it named them), `Retry-After` and whether it was a rate limit.
 *
 * @param e What `order()` threw.
 * @returns The failure.
 * @example
 * ```ts
 * import { orderFailure } from "@alpnmux/core/certs";
 * orderFailure(new Error("boom")).message; // "boom"
 * ```
 */
export function orderFailure(e: unknown): OrderFailure {
  if (!(e instanceof Error)) return { message: String(e) };
  const x = e as Error & Partial<OrderFailure>;
  const problems = Array.isArray(x.problems) ? x.problems : x.problem ? [x.problem] : [];
  const rateLimited =
    x.rateLimited === true ||
    problems.some((p) => p.type === RATE_LIMITED) ||
    x.problem?.type === RATE_LIMITED;
  return {
    message: e.message,
    ...(typeof x.code === "string" ? { code: x.code } : {}),
    ...(x.problem ? { problem: x.problem } : {}),
    problems,
    ...(typeof x.retryAfterMs === "number" && x.retryAfterMs >= 0 ? { retryAfterMs: x.retryAfterMs } : {}),
    rateLimited,
  };
}

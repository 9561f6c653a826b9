/**
 * The narrow seams the certificate manager orders through: {@linkcode CertificateIssuer} (what
 * it needs of `AcmeClient`) and {@linkcode CertificateTools} (keys, CSRs and certificate
 * parsing from `@alpnmux/core/acme`). The shapes match the ACME module's, so the real client
 * and functions plug in as they are and unit tests use fakes.
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

import type { KeyType } from "./schema.ts";
import type { AcmeProblemDocument } from "./status.ts";

/** An ACME identifier (RFC 8555 §7.1.3, RFC 8738). */
export interface AcmeIdentifier {
  readonly type: "dns" | "ip";
  readonly value: string;
}

/** Publishes and withdraws a TLS-ALPN-01 key authorization (the instance's challenge store). */
export interface TlsAlpnSolver {
  present(identifier: AcmeIdentifier, keyAuthorization: string): Promise<void>;
  cleanup(identifier: AcmeIdentifier, keyAuthorization: string): Promise<void>;
}

/** One order. */
export interface OrderRequest {
  readonly identifiers: readonly AcmeIdentifier[];
  /** DER PKCS#10. */
  readonly csr: Uint8Array;
  readonly profile?: string;
  /** ARI identifier of the certificate this one replaces (RFC 9773 §5). */
  readonly replaces?: string;
  readonly solver: TlsAlpnSolver;
  readonly signal?: AbortSignal;
}

/** What an order gives back. */
export interface IssuedCertificate {
  /** The full chain, leaf first. */
  readonly pem: string;
  readonly orderUrl: string;
}

/** ACME Renewal Information (RFC 9773). */
export interface RenewalInfo {
  /** `suggestedWindow.start`, epoch ms. */
  readonly start: number;
  /** `suggestedWindow.end`, epoch ms. */
  readonly end: number;
  readonly explanationUrl?: string;
  /** From `Retry-After`: when to ask again. */
  readonly retryAfterMs?: number;
}

/** What the manager needs of an ACME client (`AcmeClient` has it). */
export interface CertificateIssuer {
  order(request: OrderRequest): Promise<IssuedCertificate>;
  /** null when the CA offers no ARI; `signal` aborts it (at stop). */
  renewalInfo(
    certificatePem: string,
    options?: { readonly signal?: AbortSignal },
  ): Promise<RenewalInfo | null>;
  /** Registers (or finds) the account; its URL goes in `account.json`. */
  accountUrl?(): Promise<string>;
}

/** A parsed certificate (`parseCertificate` of the ACME module). */
export interface CertificateInfo {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial: string;
  readonly issuer: string;
  readonly identifiers: readonly AcmeIdentifier[];
  readonly ariId: string | null;
  readonly publicKeySpki: Uint8Array;
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

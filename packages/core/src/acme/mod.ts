/**
 * The ACME client of alpnmux (`@alpnmux/core/acme`): RFC 8555 with TLS-ALPN-01 (RFC 8737),
 * IP identifiers (RFC 8738), ACME Renewal Information (RFC 9773), profiles
 * (draft-ietf-acme-profiles) and external account binding. Runtime-agnostic: `fetch` and
 * WebCrypto are passed in. Not imported by core's main `mod.ts`, so the connection path never
 * loads it (nor `@peculiar/x509`).
 *
 * @example
 * ```ts
 * import { AcmeClient, generateAccountKey } from "@alpnmux/core/acme";
 * const client = new AcmeClient({
 *   directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory",
 *   fetch,
 *   accountKey: await generateAccountKey(),
 * });
 * console.log(typeof client.order); // "function"
 * ```
 *
 * @module acme
 */

export { decodeBase64Url, derToPem, encodeBase64Url, pemToDer } from "./base64url.ts";
export { type CertificateInfo, parseCertificate, splitPemChain } from "./certificate.ts";
export {
  AcmeClient,
  type AcmeClientOptions,
  DEFAULT_ORDER_TIMEOUT_MS,
  type RenewalInfo,
} from "./client.ts";
export { createCsr } from "./csr.ts";
export {
  ACME_ERROR_PREFIX,
  AcmeError,
  type AcmeErrorCode,
  type AcmeErrorOptions,
  type AcmeProblemDocument,
  describeProblem,
  parseProblem,
  parseRetryAfter,
} from "./errors.ts";
export {
  AcmeHttp,
  type AcmeHttpOptions,
  type AcmeResponse,
  BAD_NONCE_ATTEMPTS,
  jsonObject,
  NONCE_POOL_SIZE,
} from "./http.ts";
export { normalizeOrderIdentifiers } from "./identifiers.ts";
export {
  accountJwk,
  createEabJws,
  type FlattenedJws,
  jwkThumbprint,
  type PublicJwk,
  signJws,
} from "./jws.ts";
export {
  type CertificateKeyType,
  exportPrivateKeyPem,
  generateAccountKey,
  generateCertificateKey,
  importPrivateKeyPem,
} from "./keys.ts";
export {
  DEFAULT_POLL_MS,
  type IssuedCertificate,
  MAX_POLL_MS,
  type OrderRequest,
  pollDelay,
  type TlsAlpnSolver,
} from "./order-flow.ts";
export {
  type AcmeAuthorization,
  type AcmeChallenge,
  type AcmeDirectory,
  type AcmeIdentifier,
  type AcmeOrder,
  parseAuthorization,
  parseDirectory,
  parseOrder,
} from "./resources.ts";

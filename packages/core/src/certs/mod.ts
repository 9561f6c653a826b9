/**
 * The certificate manager (`@alpnmux/core/certs`): alpnmux orders and renews the certificates
 * of `certificates:` itself through its built-in TLS-ALPN-01 responder, writes them to each
 * `out` directory, runs `deploy`, and reports them to the admin API (`GET /v1/certificates`),
 * the CLI (`alpnmux certs list`) and `/metrics`.
 *
 * @example
 * ```ts
 * import { lifetimeRenewalAt } from "@alpnmux/core/certs";
 * const day = 86_400_000;
 * console.log(lifetimeRenewalAt(0, 90 * day, () => 0.5) / day); // 60: 2/3 of 90 days
 * ```
 *
 * @module certs
 */

export { AccountStore, type AccountStoreOptions } from "./account.ts";
export { armTimer, type CertClock, MAX_TIMER_MS, systemClock } from "./clock.ts";
export {
  CERTS_USAGE,
  type CertsArgs,
  type CertsCommandOptions,
  formatCertificateTable,
  parseCertsArgs,
  runCertsCommand,
} from "./command.ts";
export { runDeploy } from "./deploy.ts";
export { type Entry, type LastResult, type NextRenewal, newEntry, saveState, statusOf } from "./entry.ts";
export type { CertHost, RunResult } from "./host.ts";
export {
  type AcmeIdentifier,
  type CertificateInfo,
  type CertificateIssuer,
  type CertificateTools,
  type IssuedCertificate,
  type OrderFailure,
  type OrderRequest,
  orderFailure,
  type RenewalInfo,
  type TlsAlpnSolver,
} from "./issuer.ts";
export { CertificateManager, type CertificateManagerOptions, type ChallengeWriter } from "./manager.ts";
export {
  configuredIdentifiers,
  findOnDisk,
  type Inspection,
  inspect,
  type Material,
  missingIdentifiers,
} from "./material.ts";
export { type CertificateMetrics, certificateMetrics } from "./metrics.ts";
export { type Obtained, type ObtainOptions, obtain } from "./obtain.ts";
export {
  ARI_MIN_AGE_MS,
  ARI_RECHECK_MS,
  ariRecheckAt,
  ariRenewalAt,
  BACKOFF_MAX_MS,
  BACKOFF_MIN_MS,
  backoffDelay,
  expiryMargin,
  lifetimeRenewalAt,
  RATE_LIMIT_MIN_MS,
  type RetryPlan,
  retryPlan,
  SHORT_LIFETIME_MS,
} from "./schedule.ts";
export {
  type AcmeConfig,
  acmeSchema,
  type CertificateConfig,
  certificatesSchema,
  DEFAULT_STORAGE,
  KEY_TYPES,
  type KeyType,
  LETS_ENCRYPT_DIRECTORY,
} from "./schema.ts";
export {
  type CertificateCoordinator,
  EXTEND_SCRIPT,
  type HeldLock,
  localCoordinator,
  RELEASE_SCRIPT,
  RedisCoordinator,
  type RedisCoordinatorOptions,
  type SharedCertificate,
} from "./shared.ts";
export type {
  AcmeProblemDocument,
  CertificateSource,
  CertificateStatus,
  RenewalOutcome,
  RenewalReason,
} from "./status.ts";
export {
  accountDir,
  certificateDir,
  certificateFiles,
  type FileSpec,
  joinPath,
  PRIVATE_MODE,
  PUBLIC_MODE,
  readPair,
  readText,
  writeCertificate,
  writeOut,
} from "./storage.ts";
export { acmeTools, type CertificateWiring, createCertificateManager } from "./wire.ts";

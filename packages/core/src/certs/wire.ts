/**
 * Builds the certificate manager of a checked config over the real ACME client
 * (`@alpnmux/core/acme`): reads `acme.caCertificates`, gets the CA's `fetch` from the runtime,
 * and shares certificates through Redis when the challenge store is Redis.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { createCertificateManager } from "@alpnmux/core/certs";
 * const config = parseConfig({ default: "reject" });
 * console.log(config.certificates.length); // 0: nothing to build
 * console.log(typeof createCertificateManager); // "function"
 * ```
 *
 * @module certs/wire
 */

import { parseCertificate, splitPemChain } from "../acme/certificate.ts";
import { AcmeClient } from "../acme/client.ts";
import { createCsr } from "../acme/csr.ts";
import {
  exportPrivateKeyPem,
  generateAccountKey,
  generateCertificateKey,
  importPrivateKeyPem,
} from "../acme/keys.ts";
import { ConfigError, type RouterConfig } from "../config.ts";
import type { Registry } from "../metrics.ts";
import type { RespValue } from "../redis/resp.ts";
import type { CertClock } from "./clock.ts";
import type { CertHost } from "./host.ts";
import type { CertificateTools } from "./issuer.ts";
import { CertificateManager, type ChallengeWriter } from "./manager.ts";
import { RedisCoordinator } from "./shared.ts";

/**
 * The ACME module's functions as {@linkcode CertificateTools}.
 *
 * @example
 * ```ts
 * import { acmeTools } from "@alpnmux/core/certs";
 * const tools = acmeTools();
 * const keys = await tools.generateCertificateKey("ecdsa-p256");
 * console.log((await tools.exportPrivateKeyPem(keys)).startsWith("-----BEGIN PRIVATE KEY-----")); // true
 * ```
 */
export function acmeTools(crypto: Crypto = globalThis.crypto): CertificateTools {
  return {
    generateAccountKey: () => generateAccountKey(crypto),
    generateCertificateKey: (t) => generateCertificateKey(t, crypto),
    exportPrivateKeyPem: (k) => exportPrivateKeyPem(k, crypto),
    importPrivateKeyPem: (pem, t) => importPrivateKeyPem(pem, t, crypto),
    createCsr: (ids, keys, t) => createCsr(ids, keys, t, crypto),
    parseCertificate,
    splitPemChain,
  };
}

/** What {@linkcode createCertificateManager} needs besides the config. */
export interface CertificateWiring {
  readonly config: RouterConfig;
  readonly host: CertHost;
  /** The instance's challenge store (the responder reads it; workers are told). */
  readonly challenges: ChallengeWriter;
  /** Reads `acme.caCertificates`; if absent, that setting is refused. */
  readonly readFile?: (path: string) => string;
  /** The primary's registry (so the metrics appear once). */
  readonly registry?: Registry;
  /** The Redis connection of `challenges.store: redis`: certificates are shared through it. */
  readonly redis?: { command(args: readonly (string | Uint8Array)[]): Promise<RespValue> };
  readonly crypto?: Crypto;
  readonly clock?: CertClock;
  /** e.g. `alpnmux/0.1.0 (bun 1.4.5)`. */
  readonly userAgent?: string;
}

/**
 * The manager for `config.certificates` (call `start()` once the listeners are bound).
 *
 * @param w Config, runtime host, challenge store.
 * @returns The manager.
 * @throws {ConfigError} `acme.caCertificates` unreadable or without a PEM certificate.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { createCertificateManager } from "@alpnmux/core/certs";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const config = parseConfig({
 *   default: "reject",
 *   routes: [{ match: { acme: "exact" }, target: { acme: "builtin" } }],
 *   certificates: [{ name: "web", identifiers: ["example.com", "203.0.113.7"], out: "/etc/ssl/web" }],
 * });
 * const host = { acmeFetch: () => fetch, readFile: async () => null, writeFileAtomic: async () => {}, run: async () => ({ code: 0, output: "" }) };
 * const manager = createCertificateManager({ config, host, challenges: new MemoryChallengeStore() });
 * console.log(manager.list()[0]?.identifiers); // ["example.com", "203.0.113.7"]
 * ```
 */
export function createCertificateManager(w: CertificateWiring): CertificateManager {
  const { acme } = w.config;
  const crypto = w.crypto ?? globalThis.crypto;
  let ca: string | undefined;
  if (acme.caCertificates !== undefined) {
    const bad = (message: string) =>
      new ConfigError("invalid-config", [{ path: "acme.caCertificates", message }]);
    if (!w.readFile) throw bad("this runtime cannot read files");
    try {
      ca = w.readFile(acme.caCertificates);
    } catch (e) {
      throw bad(`cannot read ${acme.caCertificates}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
      throw bad(`${acme.caCertificates} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    }
  }
  const fetch = w.host.acmeFetch(ca);
  const redis = w.config.challenges.store === "redis" ? w.redis : undefined;
  return new CertificateManager({
    acme,
    certificates: w.config.certificates,
    host: w.host,
    challenges: w.challenges,
    tools: acmeTools(crypto),
    crypto,
    issuer: (accountKey) =>
      new AcmeClient({
        directoryUrl: acme.directory,
        fetch,
        accountKey,
        crypto,
        ...(acme.email !== undefined ? { contact: [`mailto:${acme.email}`] } : {}),
        ...(acme.eab !== undefined ? { eab: acme.eab } : {}),
        ...(w.userAgent !== undefined ? { userAgent: w.userAgent } : {}),
      }),
    ...(redis
      ? {
          coordinator: new RedisCoordinator({
            client: redis,
            keyPrefix: w.config.challenges.redis?.keyPrefix ?? "alpnmux:",
            crypto,
          }),
        }
      : {}),
    ...(w.registry ? { registry: w.registry } : {}),
    ...(w.clock ? { clock: w.clock } : {}),
  });
}

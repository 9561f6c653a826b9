/**
 * @module acme — drives a real ACME client library (`acme-client` 5.x, npm) through a
 * TLS-ALPN-01 order against the harness {@link Pebble}. `client.auto()` only places `dns`
 * identifiers (it reads names from the CSR and tags them all `dns`), so this runs the same
 * steps by hand: it can order RFC 8738 `ip` identifiers too. The hooks have auto()'s shape.
 *
 * @example
 * const r = await issueWithAcmeClient({ pebble, identifiers: ['a.example.test', '127.0.0.1'],
 *   challengeCreateFn: async (id, keyAuth) => store(id, keyAuth), challengeRemoveFn: async (id) => drop(id) })
 * // r.certPem, r.elapsedMs
 */
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import acme from "acme-client";
import type { Pebble } from "./pebble.ts";

export interface AcmeIssueOptions {
  pebble: Pick<Pebble, "directoryUrl" | "caPem">;
  /** DNS names and IP literals; the first one is also the CSR's common name. */
  identifiers: string[];
  /** Publishes the key authorization for `identifier` (a DNS name or an IP literal). */
  challengeCreateFn: (identifier: string, keyAuthorization: string, type: "dns" | "ip") => Promise<void>;
  /** Removes it again (errors are collected, not thrown, as auto() does). */
  challengeRemoveFn: (identifier: string, keyAuthorization: string, type: "dns" | "ip") => Promise<void>;
  /** Challenge type to pick (default `tls-alpn-01`). */
  challengeType?: string;
}

export interface AcmeIssueResult {
  /** The issued chain as PEM (leaf first). */
  certPem: string;
  /** Private key of the certificate (PEM). */
  keyPem: string;
  /** Wall time from account creation to certificate download. */
  elapsedMs: number;
  /** Per identifier: the challenge type used and the final authorization status. */
  authorizations: { identifier: string; type: string; status: string; challengeType: string }[];
  /** Errors thrown by challengeRemoveFn (auto() swallows these too; tests should assert none). */
  removeErrors: string[];
}

let agentFor: string | undefined;

/** Points acme-client's axios instance at Pebble's self-signed HTTPS listener CA. */
function trustPebble(caPem: string): void {
  if (agentFor === caPem) return;
  agentFor = caPem;
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: fs.readFileSync(caPem, "utf8"), keepAlive: false });
}

/**
 * Creates an account, orders a certificate for `identifiers`, answers each authorization's
 * `tls-alpn-01` challenge through the hooks, finalizes with a CSR for all identifiers and
 * downloads the certificate. Rejects (with the ACME problem) if any step fails.
 */
export async function issueWithAcmeClient(opts: AcmeIssueOptions): Promise<AcmeIssueResult> {
  trustPebble(opts.pebble.caPem);
  const wanted = opts.challengeType ?? "tls-alpn-01";
  const started = Date.now();
  const client = new acme.Client({
    directoryUrl: opts.pebble.directoryUrl,
    accountKey: await acme.crypto.createPrivateEcdsaKey(),
    // Pebble sends no Retry-After; the defaults (5 s minimum) would dominate the wall time.
    backoffAttempts: 40,
    backoffMin: 100,
    backoffMax: 500,
  });
  await client.createAccount({ termsOfServiceAgreed: true, contact: ["mailto:builtin@example.test"] });
  const identifiers = opts.identifiers.map((value) => ({
    type: net.isIP(value) !== 0 ? ("ip" as const) : ("dns" as const),
    value,
  }));
  const order = await client.createOrder({ identifiers });
  const authzs = await client.getAuthorizations(order);
  const removeErrors: string[] = [];
  const authorizations: AcmeIssueResult["authorizations"] = [];
  await Promise.all(
    authzs.map(async (authz) => {
      const id = authz.identifier.value;
      const type = authz.identifier.type === "ip" ? "ip" : "dns";
      const challenge = authz.challenges.find((c) => c.type === wanted);
      if (challenge === undefined) {
        throw new Error(
          `No ${wanted} challenge for ${id}: offered ${authz.challenges.map((c) => c.type).join(", ")}`,
        );
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      try {
        await opts.challengeCreateFn(id, keyAuthorization, type);
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } finally {
        try {
          await opts.challengeRemoveFn(id, keyAuthorization, type);
        } catch (e) {
          removeErrors.push(`${id}: ${(e as Error).message}`);
        }
      }
      const final = await client.waitForValidStatus(authz);
      authorizations.push({
        identifier: id,
        type: authz.identifier.type,
        status: final.status,
        challengeType: challenge.type,
      });
    }),
  );
  const [first] = opts.identifiers;
  if (first === undefined) throw new TypeError("issueWithAcmeClient: no identifiers");
  const [key, csr] = await acme.crypto.createCsr(
    { commonName: first, altNames: [...opts.identifiers] },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  const finalized = await client.finalizeOrder(order, csr);
  const certPem = await client.getCertificate(finalized);
  return {
    certPem,
    keyPem: key.toString(),
    elapsedMs: Date.now() - started,
    authorizations,
    removeErrors,
  };
}

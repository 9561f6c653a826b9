/**
 * Checks a certificate and key found on disk (or in the shared store) against the config: the
 * chain parses, the key is of the configured type and matches the certificate, the
 * certificate's identifiers cover the configured ones, and it has not expired. Only then is
 * it used instead of ordering.
 *
 * @example
 * ```ts
 * import { configuredIdentifiers } from "@alpnmux/core/certs";
 * configuredIdentifiers(["Example.COM", "203.0.113.7"]);
 * // [{ type: "dns", value: "example.com" }, { type: "ip", value: "203.0.113.7" }]
 * ```
 *
 * @module certs/material
 */

import { normalizeIdentifier } from "../challenge-cert.ts";
import type { CertHost } from "./host.ts";
import type { AcmeIdentifier, CertificateInfo, CertificateTools } from "./issuer.ts";
import type { KeyType } from "./schema.ts";
import { readPair } from "./storage.ts";

/** A certificate in use: its files and what they say. */
export interface Material {
  readonly fullchain: string;
  readonly privkey: string;
  readonly info: CertificateInfo;
}

/** What a look at stored files found. Closed union. */
export type Inspection =
  | { readonly kind: "valid"; readonly material: Material }
  | { readonly kind: "absent" }
  /** Parses, but for other identifiers or another key type (or the key does not match). */
  | { readonly kind: "mismatch"; readonly why: string }
  | { readonly kind: "expired"; readonly notAfter: Date }
  | { readonly kind: "unreadable"; readonly why: string };

/**
 * The configured identifiers as ACME identifiers (normalised: lower case, canonical IPs).
 *
 * @param identifiers `certificates[].identifiers` (checked by the config).
 * @returns In config order.
 * @example
 * ```ts
 * import { configuredIdentifiers } from "@alpnmux/core/certs";
 * configuredIdentifiers(["WWW.Example.com", "2001:DB8::1"]); // [{ type: "dns", value: "www.example.com" }, { type: "ip", value: "2001:db8::1" }]
 * ```
 */
export function configuredIdentifiers(identifiers: readonly string[]): AcmeIdentifier[] {
  return identifiers.map((s) => normalizeIdentifier(s));
}

function key(id: AcmeIdentifier): string {
  try {
    const n = normalizeIdentifier(id.value);
    return `${n.type}:${n.value}`;
  } catch {
    return `${id.type}:${id.value.toLowerCase()}`;
  }
}

/**
 * The configured identifiers the certificate lacks.
 *
 * @example
 * ```ts
 * import { missingIdentifiers } from "@alpnmux/core/certs";
 * const want = [{ type: "dns", value: "a.example" }, { type: "dns", value: "b.example" }] as const;
 * missingIdentifiers(want, [{ type: "dns", value: "A.example" }]); // [{ type: "dns", value: "b.example" }]
 * ```
 */
export function missingIdentifiers(
  wanted: readonly AcmeIdentifier[],
  have: readonly AcmeIdentifier[],
): AcmeIdentifier[] {
  const got = new Set(have.map(key));
  return wanted.filter((w) => !got.has(key(w)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks a key and chain against the configured identifiers and key type.
 *
 * @param pair The files, or null when absent.
 * @param want Identifiers and key type.
 * @param tools Parsing and key import.
 * @param now Epoch ms.
 * @param crypto WebCrypto (to export the public key).
 * @returns What was found.
 * @example
 * ```ts
 * import { acmeTools, inspect } from "@alpnmux/core/certs";
 * const r = await inspect(null, { identifiers: [], keyType: "ecdsa-p256" }, acmeTools(), Date.now());
 * console.log(r.kind); // "absent"
 * ```
 */
export async function inspect(
  pair: { fullchain: string; privkey: string } | null,
  want: { readonly identifiers: readonly AcmeIdentifier[]; readonly keyType: KeyType },
  tools: Pick<CertificateTools, "parseCertificate" | "importPrivateKeyPem">,
  now: number,
  crypto: Crypto = globalThis.crypto,
): Promise<Inspection> {
  if (pair === null) return { kind: "absent" };
  let info: CertificateInfo;
  try {
    info = tools.parseCertificate(pair.fullchain);
  } catch (e) {
    return { kind: "unreadable", why: `fullchain.pem: ${e instanceof Error ? e.message : String(e)}` };
  }
  const missing = missingIdentifiers(want.identifiers, info.identifiers);
  if (missing.length) {
    return { kind: "mismatch", why: `it lacks ${missing.map((m) => m.value).join(", ")}` };
  }
  let spki: Uint8Array;
  try {
    const keys = await tools.importPrivateKeyPem(pair.privkey, want.keyType);
    spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  } catch {
    return { kind: "mismatch", why: `privkey.pem is not a ${want.keyType} key` };
  }
  if (!sameBytes(spki, info.publicKeySpki)) {
    return { kind: "mismatch", why: "privkey.pem does not match the certificate" };
  }
  if (info.notAfter.getTime() <= now) return { kind: "expired", notAfter: info.notAfter };
  return { kind: "valid", material: { ...pair, info } };
}

/**
 * What is on disk for a certificate: its storage copy when valid, else the files in `out`
 * (put there by hand or by another tool) when valid, else why neither can be used.
 *
 * @param host Reads the files.
 * @param dirs The storage directory and `out`.
 * @param want Identifiers and key type.
 * @param tools Parsing and key import.
 * @param now Epoch ms.
 * @param crypto WebCrypto.
 * @returns The first valid pair, or the storage copy's problem (the `out` one's when storage is empty).
 * @example
 * ```ts
 * import { acmeTools, findOnDisk } from "@alpnmux/core/certs";
 * const host = { acmeFetch: () => fetch, readFile: async () => null, writeFileAtomic: async () => {}, run: async () => ({ code: 0, output: "" }) };
 * const want = { identifiers: [{ type: "dns", value: "example.com" }] as const, keyType: "ecdsa-p256" } as const;
 * const r = await findOnDisk(host, { storage: "/var/lib/alpnmux/certificates/web", out: "/etc/ssl/web" }, want, acmeTools(), Date.now());
 * console.log(r.kind); // "absent": nothing in either place
 * ```
 */
export async function findOnDisk(
  host: CertHost,
  dirs: { readonly storage: string; readonly out: string },
  want: { readonly identifiers: readonly AcmeIdentifier[]; readonly keyType: KeyType },
  tools: Pick<CertificateTools, "parseCertificate" | "importPrivateKeyPem">,
  now: number,
  crypto: Crypto = globalThis.crypto,
): Promise<Inspection> {
  const stored = await inspect(await readPair(host, dirs.storage), want, tools, now, crypto);
  if (stored.kind === "valid") return stored;
  const out = await inspect(await readPair(host, dirs.out), want, tools, now, crypto);
  return out.kind === "valid" || stored.kind === "absent" ? out : stored;
}

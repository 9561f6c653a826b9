/**
 * The `acme:` and `certificates:` sections of the config (zod), checked into
 * {@linkcode AcmeConfig} and {@linkcode CertificateConfig}: identifiers are DNS names or IP
 * addresses (RFC 8738), never wildcards (TLS-ALPN-01 cannot validate them), names are unique and
 * safe as directory names. The values stay in their input form, so a checked config parses again.
 *
 * @example
 * ```ts
 * import { certificatesSchema } from "@alpnmux/core/certs";
 * const [web] = certificatesSchema.parse([{ name: "web", identifiers: ["example.com"], out: "/etc/ssl/web" }]);
 * console.log(web?.keyType); // "ecdsa-p256"
 * ```
 *
 * @module certs/schema
 */

import { z } from "zod";
import { ChallengeCertError, normalizeIdentifier } from "../challenge-cert.ts";

/** Let's Encrypt's production directory, the default `acme.directory`. */
export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";

/** Where the account key and certificate state live by default. */
export const DEFAULT_STORAGE = "/var/lib/alpnmux";

/** The key types a certificate may have. */
export const KEY_TYPES = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"] as const;

const httpsUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}, "is not an http(s) URL");

/** `acme:` (every field has a default or is optional). */
export const acmeSchema = z.strictObject({
  directory: httpsUrl.default(LETS_ENCRYPT_DIRECTORY),
  email: z
    .string()
    .regex(/^[^\s@]+@[^\s@]+$/, "is not an email address")
    .optional(),
  caCertificates: z.string().min(1).optional(),
  eab: z
    .strictObject({
      keyId: z.string().min(1),
      hmacKey: z.string().regex(/^[A-Za-z0-9_=+/-]+$/, "is not base64url (as the CA hands it out)"),
    })
    .optional(),
  profile: z.string().min(1).optional(),
  storage: z.string().min(1).default(DEFAULT_STORAGE),
});

const identifier = z.string().superRefine((s, ctx) => {
  if (s.includes("*")) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(s)} is a wildcard: TLS-ALPN-01 cannot validate wildcard names`,
    });
    return;
  }
  try {
    normalizeIdentifier(s);
  } catch (e) {
    if (!(e instanceof ChallengeCertError)) throw e;
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} is not a DNS name or IP address` });
  }
});

const certificate = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      "must be 1-64 letters, digits, '.', '_' or '-' (it names a directory), starting with a letter or digit",
    ),
  identifiers: z
    .array(identifier)
    .min(1, "needs at least one DNS name or IP address")
    .max(100, "at most 100 identifiers per certificate")
    .superRefine((ids, ctx) => {
      const seen = new Map<string, number>();
      ids.forEach((s, i) => {
        let key: string;
        try {
          key = normalizeIdentifier(s).value;
        } catch {
          return;
        }
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [i],
            message: `${JSON.stringify(s)} repeats identifiers[${first}]`,
          });
        } else seen.set(key, i);
      });
    }),
  out: z.string().min(1, "is empty"),
  deploy: z.string().min(1).optional(),
  keyType: z.enum(KEY_TYPES).default("ecdsa-p256"),
  profile: z.string().min(1).optional(),
});

/** `certificates:`, a list with unique names. */
export const certificatesSchema = z.array(certificate).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((c, i) => {
    const first = seen.get(c.name);
    if (first !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [i, "name"],
        message: `${JSON.stringify(c.name)} is already the name of certificates[${first}]`,
      });
    } else seen.set(c.name, i);
  });
});

/** `acme:` as checked. */
export type AcmeConfig = z.output<typeof acmeSchema>;
/** One `certificates[]` entry as checked. */
export type CertificateConfig = z.output<typeof certificate>;
/** A certificate key type. */
export type KeyType = (typeof KEY_TYPES)[number];

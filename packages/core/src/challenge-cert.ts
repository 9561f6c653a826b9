/**
 * TLS-ALPN-01 challenge certificates (RFC 8737, Section 3; RFC 8738 for IP identifiers):
 * self-signed ECDSA P-256, exactly one subjectAltName (a dNSName, or an iPAddress for an IP
 * identifier) and the critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31) whose value is
 * the DER OCTET STRING of SHA-256(keyAuthorization). The caller gives the key authorization, or
 * the digest itself (what uacme and dehydrated hand to their hooks, see `challenge-value.ts`).
 *
 * Built with `@peculiar/x509` v2, which needs the Reflect metadata polyfill, imported here.
 * The WebCrypto implementation is passed in, never sniffed.
 *
 * @example Build the certificate for a challenge
 * ```ts
 * import { createChallengeCertificate } from "@alpnmux/core/challenge";
 * const cert = await createChallengeCertificate({
 *   identifier: "a.example.test",
 *   keyAuthorization: "token.thumbprint",
 *   crypto: globalThis.crypto,
 * });
 * console.log(cert.certPem, cert.notAfter);
 * ```
 *
 * @module challenge-cert
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { formatIp, parseIp } from "./ip.ts";

/** The OID of the acmeIdentifier extension (RFC 8737, Section 6.1). */
export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";

/** Default validity after `now`: 7 days. */
export const DEFAULT_VALIDITY_MS = 7 * 24 * 3600 * 1000;

/** How far notBefore is back-dated, for clock skew: 1 hour. */
export const BACKDATE_MS = 3600 * 1000;

/** Why a challenge certificate cannot be built. */
export type ChallengeCertErrorCode =
  | "invalid-identifier"
  | "wildcard-identifier"
  | "invalid-key-authorization"
  | "invalid-digest"
  | "invalid-validity";

/**
 * A challenge certificate request that cannot be honoured (bad identifier, empty key
 * authorization, bad validity).
 *
 * @example
 * ```ts
 * import { ChallengeCertError, normalizeIdentifier } from "@alpnmux/core/challenge";
 * try {
 *   normalizeIdentifier("*.example.com");
 * } catch (e) {
 *   if (e instanceof ChallengeCertError) console.log(e.code); // "wildcard-identifier"
 * }
 * ```
 */
export class ChallengeCertError extends TypeError {
  /** What is wrong. */
  readonly code: ChallengeCertErrorCode;

  /**
   * @param code The stable error code.
   * @param reason The human-readable reason.
   */
  constructor(code: ChallengeCertErrorCode, reason: string) {
    super(`Cannot create challenge certificate: ${reason}`);
    this.name = "ChallengeCertError";
    this.code = code;
  }
}

/** A normalised ACME identifier. */
export interface ChallengeIdentifier {
  /** `"dns"` for a host name, `"ip"` for an address (RFC 8738). */
  readonly type: "dns" | "ip";
  /** Lower-case host name, or the canonical address text (RFC 5952 for IPv6). */
  readonly value: string;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Normalises an identifier: IP literals (IPv4, IPv6, optionally in brackets) become their
 * canonical text; names are lower-cased and checked as LDH host names (a final dot is dropped).
 *
 * @param identifier A host name or IP address.
 * @returns The identifier's type and canonical value.
 * @throws {ChallengeCertError} `invalid-identifier` for anything else, `wildcard-identifier`
 *   for `*.` names (RFC 8737, Section 3: not allowed for TLS-ALPN-01).
 * @example
 * ```ts
 * import { normalizeIdentifier } from "@alpnmux/core/challenge";
 * normalizeIdentifier("A.Example.TEST"); // { type: "dns", value: "a.example.test" }
 * normalizeIdentifier("2001:DB8::0:1"); // { type: "ip", value: "2001:db8::1" }
 * ```
 */
export function normalizeIdentifier(identifier: string): ChallengeIdentifier {
  const bare = identifier.startsWith("[") && identifier.endsWith("]") ? identifier.slice(1, -1) : identifier;
  const ip = parseIp(bare);
  if (ip !== null) return { type: "ip", value: formatIp(ip.bytes) };
  let name = identifier.toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name.startsWith("*.")) {
    throw new ChallengeCertError("wildcard-identifier", `"${identifier}" is a wildcard name`);
  }
  if (name.length === 0 || name.length > 253 || !name.split(".").every((l) => LABEL.test(l))) {
    throw new ChallengeCertError(
      "invalid-identifier",
      `"${identifier}" is neither a host name nor an IP address`,
    );
  }
  return { type: "dns", value: name };
}

/**
 * Options of {@linkcode createChallengeCertificate}: the identifier, and exactly one of
 * `keyAuthorization` and `digest`.
 */
export interface ChallengeCertificateOptions {
  /** The identifier being validated: a DNS name or an IP address. */
  readonly identifier: string;
  /** The key authorization (`token || "." || thumbprint`), hashed into the certificate. */
  readonly keyAuthorization?: string;
  /** SHA-256(keyAuthorization) already computed (32 bytes), put into the certificate as is. */
  readonly digest?: Uint8Array;
  /** The WebCrypto implementation, e.g. `globalThis.crypto`. */
  readonly crypto: Crypto;
  /** Current time; if omitted, `new Date()`. notBefore is one hour earlier. */
  readonly now?: Date;
  /** Validity after `now` in milliseconds; if 0 or omitted, 7 days. */
  readonly validityMs?: number;
}

/** A built challenge certificate and its key. */
export interface ChallengeCertificate {
  /** The normalised identifier the certificate names. */
  readonly identifier: string;
  /** The certificate, DER. */
  readonly certDer: Uint8Array<ArrayBuffer>;
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The ECDSA P-256 private key (usage "sign"), for TLS CertificateVerify. */
  readonly privateKey: CryptoKey;
  /** The private key, PKCS#8 PEM. */
  readonly keyPem: string;
  /** The end of validity. */
  readonly notAfter: Date;
}

/**
 * The extnValue of the acmeIdentifier extension: the DER OCTET STRING `04 20 || digest`.
 *
 * @param crypto A WebCrypto implementation.
 * @param keyAuthorization The key authorization.
 * @returns 34 bytes.
 * @example
 * ```ts
 * import { acmeIdentifierValue } from "@alpnmux/core/challenge";
 * const value = await acmeIdentifierValue(crypto, "token.thumbprint"); // 04 20 ...
 * ```
 */
export async function acmeIdentifierValue(
  crypto: Crypto,
  keyAuthorization: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(keyAuthorization)),
  );
  return digestOctetString(digest);
}

/** `04 20 || digest`: the DER OCTET STRING of a 32-byte digest. */
function digestOctetString(digest: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(34);
  out[0] = 0x04;
  out[1] = 0x20;
  out.set(digest, 2);
  return out;
}

/**
 * Builds an RFC 8737 challenge certificate with a fresh P-256 key.
 *
 * @param options Identifier, key authorization (or its digest), crypto, optional time and validity.
 * @returns The certificate in DER and PEM, its key and its end of validity.
 * @throws {ChallengeCertError} For a bad identifier, an empty key authorization, a digest that
 *   is not 32 bytes, both or neither of them, or a negative/non-finite validity.
 * @example
 * ```ts
 * import { createChallengeCertificate } from "@alpnmux/core/challenge";
 * const keyAuthorization = "token.thumbprint";
 * const cert = await createChallengeCertificate({ identifier: "127.0.0.1", keyAuthorization, crypto });
 * // cert has one iPAddress SAN 127.0.0.1 and the critical acmeIdentifier extension
 * const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(keyAuthorization)));
 * const same = await createChallengeCertificate({ identifier: "127.0.0.1", digest, crypto });
 * // same acmeIdentifier value (uacme and dehydrated hand over the digest, not the key authorization)
 * ```
 */
export async function createChallengeCertificate(
  options: ChallengeCertificateOptions,
): Promise<ChallengeCertificate> {
  const { crypto, keyAuthorization, digest } = options;
  const id = normalizeIdentifier(options.identifier);
  if (digest !== undefined) {
    if (keyAuthorization !== undefined) {
      throw new ChallengeCertError("invalid-digest", "give a key authorization or a digest, not both");
    }
    if (!(digest instanceof Uint8Array) || digest.length !== 32) {
      throw new ChallengeCertError("invalid-digest", "the digest is not 32 bytes (SHA-256)");
    }
  } else if (typeof keyAuthorization !== "string" || keyAuthorization.length === 0) {
    throw new ChallengeCertError("invalid-key-authorization", "the key authorization is empty");
  }
  const validity = options.validityMs || DEFAULT_VALIDITY_MS;
  if (!Number.isFinite(validity) || validity < 0) {
    throw new ChallengeCertError("invalid-validity", `validity ${validity} ms is not a positive number`);
  }
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + validity);

  const alg: EcKeyGenParams & EcdsaParams = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01; // positive, no leading zero byte
  const extensions = [
    new x509.SubjectAlternativeNameExtension([{ type: id.type, value: id.value }], false),
    new x509.Extension(
      ACME_IDENTIFIER_OID,
      true,
      digest !== undefined
        ? digestOctetString(digest)
        : await acmeIdentifierValue(crypto, keyAuthorization as string),
    ),
  ];
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
      name: [{ CN: ["acme-tls-alpn-01"] }],
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys,
      extensions,
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    identifier: id.value,
    certDer: new Uint8Array(cert.rawData),
    certPem: cert.toString("pem"),
    privateKey: keys.privateKey,
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    notAfter,
  };
}

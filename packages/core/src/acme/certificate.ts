/**
 * What the certificate manager needs to know about an issued certificate: validity, serial,
 * issuer, the identifiers of its subjectAltName, its public key, and its ARI certificate
 * identifier (RFC 9773, Section 4.1).
 *
 * @example
 * ```ts
 * import { splitPemChain } from "@alpnmux/core/acme";
 * splitPemChain("junk").length; // 0
 * ```
 *
 * @module acme/certificate
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { formatIp, parseIp } from "../ip.ts";
import { encodeBase64Url } from "./base64url.ts";
import { AcmeError } from "./errors.ts";
import type { AcmeIdentifier } from "./resources.ts";

/** Facts about one certificate. */
export interface CertificateInfo {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lower-case hex, no separators, no leading 00. */
  readonly serial: string;
  /** The issuer's distinguished name, e.g. `CN=Pebble Intermediate CA 5f1a2b`. */
  readonly issuer: string;
  /** The subjectAltName's dNSName and iPAddress entries. */
  readonly identifiers: readonly AcmeIdentifier[];
  /** RFC 9773, Section 4.1: base64url(AKI keyIdentifier) "." base64url(serial DER content); null without AKI. */
  readonly ariId: string | null;
  /** The DER SubjectPublicKeyInfo, to check that a key matches. */
  readonly publicKeySpki: Uint8Array;
}

/**
 * Every `CERTIFICATE` block of a PEM text, in order.
 *
 * @param pem PEM text (e.g. a chain).
 * @returns The blocks, each `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----`.
 * @example
 * ```ts
 * import { splitPemChain } from "@alpnmux/core/acme";
 * const one = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----";
 * splitPemChain(`${one}\n${one}\n`).length; // 2
 * ```
 */
export function splitPemChain(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** The content bytes of the serialNumber INTEGER, read from the DER (x509 drops a leading 00). */
function serialContent(der: Uint8Array): Uint8Array {
  let i = 0;
  const header = (expect: number): number => {
    if (der[i] !== expect) throw new RangeError(`expected tag ${expect} at ${i}`);
    i++;
    let len = der[i++] as number;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + (der[i++] as number);
    }
    return len;
  };
  header(0x30); // Certificate
  header(0x30); // TBSCertificate
  if (der[i] === 0xa0) {
    const versionLength = header(0xa0); // [0] version
    i += versionLength;
  }
  const len = header(0x02); // serialNumber INTEGER
  if (i + len > der.length) throw new RangeError("serial number runs past the end");
  return der.subarray(i, i + len);
}

/**
 * Parses the first certificate of a PEM text.
 *
 * @param pem PEM text (a chain: the first certificate is used).
 * @returns Its facts.
 * @throws {AcmeError} `bad-response` when there is no parseable certificate.
 * @example
 * ```ts
 * import { AcmeError, parseCertificate } from "@alpnmux/core/acme";
 * try {
 *   parseCertificate("not a certificate");
 * } catch (e) {
 *   console.log((e as AcmeError).code); // "bad-response"
 * }
 * ```
 */
export function parseCertificate(pem: string): CertificateInfo {
  const first = splitPemChain(pem)[0];
  if (first === undefined)
    throw new AcmeError("bad-response", "Cannot parse certificate: no PEM CERTIFICATE block");
  let cert: x509.X509Certificate;
  let serialBytes: Uint8Array;
  try {
    cert = new x509.X509Certificate(first);
    serialBytes = serialContent(new Uint8Array(cert.rawData));
  } catch (e) {
    throw new AcmeError("bad-response", `Cannot parse certificate: ${(e as Error).message}`, { cause: e });
  }
  const identifiers: AcmeIdentifier[] = [];
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type === "dns") identifiers.push({ type: "dns", value: name.value.toLowerCase() });
    if (name.type === "ip") {
      const ip = parseIp(name.value);
      identifiers.push({ type: "ip", value: ip === null ? name.value : formatIp(ip.bytes) });
    }
  }
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  const keyId = aki?.keyId;
  const ariId =
    keyId === undefined || keyId === ""
      ? null
      : `${encodeBase64Url(hexBytes(keyId))}.${encodeBase64Url(serialBytes)}`;
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serial: cert.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ""),
    issuer: cert.issuer,
    identifiers,
    ariId,
    publicKeySpki: new Uint8Array(cert.publicKey.rawData),
  };
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

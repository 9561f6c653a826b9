/**
 * The certificate signing request of an order (RFC 8555, Section 7.4; RFC 2986): PKCS#10 with
 * a subjectAltName of every identifier (dNSName and iPAddress, RFC 8738) and CN = the first DNS
 * name (none when there are only IPs). Built with `@peculiar/x509` on the given WebCrypto.
 *
 * @example
 * ```ts
 * import { createCsr, generateCertificateKey } from "@alpnmux/core/acme";
 * const keys = await generateCertificateKey("ecdsa-p256");
 * const csr = await createCsr([{ type: "dns", value: "a.example" }, { type: "ip", value: "192.0.2.1" }], keys, "ecdsa-p256");
 * console.log(csr[0]); // 48 (a DER SEQUENCE)
 * ```
 *
 * @module acme/csr
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { normalizeOrderIdentifiers } from "./identifiers.ts";
import type { CertificateKeyType } from "./keys.ts";
import type { AcmeIdentifier } from "./resources.ts";

/** The signature algorithm for a key type. */
function signingAlgorithm(type: CertificateKeyType): Algorithm | EcdsaParams {
  switch (type) {
    case "ecdsa-p256":
      return { name: "ECDSA", hash: "SHA-256" } as EcdsaParams;
    case "ecdsa-p384":
      return { name: "ECDSA", hash: "SHA-384" } as EcdsaParams;
    default:
      return { name: "RSASSA-PKCS1-v1_5" };
  }
}

/**
 * Builds a DER CSR.
 *
 * @param identifiers The order's identifiers.
 * @param keys The certificate key pair.
 * @param type Its type.
 * @param crypto WebCrypto; default `globalThis.crypto`.
 * @returns DER bytes.
 * @throws {TypeError} For an empty list or a bad identifier.
 * @example
 * ```ts
 * import { createCsr, generateCertificateKey } from "@alpnmux/core/acme";
 * const keys = await generateCertificateKey("rsa-2048");
 * const csr = await createCsr([{ type: "ip", value: "2001:db8::1" }], keys, "rsa-2048");
 * console.log(csr.length > 200); // true
 * ```
 */
export async function createCsr(
  identifiers: readonly AcmeIdentifier[],
  keys: CryptoKeyPair,
  type: CertificateKeyType,
  crypto: Crypto = globalThis.crypto,
): Promise<Uint8Array<ArrayBuffer>> {
  const ids = normalizeOrderIdentifiers(identifiers);
  const firstDns = ids.find((i) => i.type === "dns");
  const san = new x509.SubjectAlternativeNameExtension(ids.map((i) => ({ type: i.type, value: i.value })));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      ...(firstDns !== undefined ? { name: [{ CN: [firstDns.value] }] } : {}),
      keys,
      signingAlgorithm: signingAlgorithm(type),
      extensions: [san],
    },
    crypto,
  );
  return new Uint8Array(csr.rawData);
}

/**
 * A test-only certificate authority shared by the fakes that issue real certificates
 * (`FakeAcmeCa` in fake-acme-ca.ts, `FakeIssuer` in fake-certs.ts): a P-256 self-signed CA and
 * leaf chains signed by it, each leaf carrying the subjectAltName it is given and the CA's
 * key identifier as its AuthorityKeyIdentifier (what the ARI certificate identifier is made of,
 * RFC 9773 §4.1). Not published.
 *
 * @module test-ca
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** The CA's key identifier (SubjectKeyIdentifier of the CA, AuthorityKeyIdentifier of each leaf). */
export const TEST_CA_KEY_ID = "69885b6b87464041e1b37b847ba0ae2cde01c8d4";

/** A CA key pair and its self-signed certificate. */
export interface TestCa {
  readonly keys: CryptoKeyPair;
  readonly cert: x509.X509Certificate;
  readonly keyId: string;
}

/** Creates a CA named `name` (a distinguished name such as `CN=Fake ACME CA`), valid in [notBefore, notAfter]. */
export async function createTestCa(name: string, notBefore: Date, notAfter: Date): Promise<TestCa> {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: "01",
      name,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.SubjectKeyIdentifierExtension(TEST_CA_KEY_ID),
      ],
    },
    crypto,
  );
  return { keys, cert, keyId: TEST_CA_KEY_ID };
}

/** What goes in one leaf. */
export interface TestLeaf {
  /** Hex. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: CryptoKey | x509.PublicKey;
  readonly subjectAltName: x509.SubjectAlternativeNameExtension;
}

/** Signs `leaf` with `ca`; returns the chain PEM, leaf first, then the CA, newline-terminated. */
export async function issueTestChain(ca: TestCa, leaf: TestLeaf): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: leaf.serialNumber,
      subject: "",
      issuer: ca.cert.subject,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      publicKey: leaf.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [leaf.subjectAltName, new x509.AuthorityKeyIdentifierExtension(ca.keyId)],
    },
    crypto,
  );
  return `${cert.toString("pem")}\n${ca.cert.toString("pem")}\n`;
}

import "reflect-metadata";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as x509 from "@peculiar/x509";
import {
  ACME_IDENTIFIER_OID,
  ChallengeCertError,
  createChallengeCertificate,
  normalizeIdentifier,
} from "./challenge-cert.ts";

const KEY_AUTH = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

async function sha256(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

function checkCommon(cert: x509.X509Certificate, digest: Uint8Array): void {
  const acme = cert.extensions.filter((e) => e.type === ACME_IDENTIFIER_OID);
  assert.equal(acme.length, 1);
  assert.equal(acme[0]?.critical, true);
  assert.deepEqual(
    new Uint8Array(acme[0]?.value ?? new ArrayBuffer(0)),
    new Uint8Array([0x04, 0x20, ...digest]),
  );
  assert.equal(cert.subject, cert.issuer);
  assert.equal(cert.publicKey.algorithm.name, "ECDSA");
  assert.equal((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
}

describe("createChallengeCertificate()", () => {
  test("a DNS identifier: one dNSName SAN, critical acmeIdentifier = 04 20 || sha256, self-signed", async () => {
    const c = await createChallengeCertificate({
      identifier: "A.Example.TEST",
      keyAuthorization: KEY_AUTH,
      crypto,
    });
    assert.equal(c.identifier, "a.example.test");
    const cert = new x509.X509Certificate(c.certPem);
    assert.deepEqual(new Uint8Array(cert.rawData), c.certDer);
    checkCommon(cert, await sha256(KEY_AUTH));
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    assert.deepEqual(san?.names.toJSON(), [{ type: "dns", value: "a.example.test" }]);
    assert.equal(await cert.verify({ signatureOnly: true }, crypto), true);
  });

  test("IPv4 and IPv6 identifiers get exactly one iPAddress SAN (RFC 8738)", async () => {
    for (const [identifier, want] of [
      ["127.0.0.1", "127.0.0.1"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ]) {
      const c = await createChallengeCertificate({
        identifier: identifier as string,
        keyAuthorization: KEY_AUTH,
        crypto,
      });
      assert.equal(c.identifier, want);
      const cert = new x509.X509Certificate(c.certDer);
      checkCommon(cert, await sha256(KEY_AUTH));
      const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
      assert.equal(names.length, 1);
      assert.equal(names[0]?.type, "ip");
    }
  });

  test("validity: notBefore one hour back, notAfter now + validityMs", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const c = await createChallengeCertificate({
      identifier: "x.test",
      keyAuthorization: "k",
      crypto,
      now,
      validityMs: 3600_000,
    });
    const cert = new x509.X509Certificate(c.certDer);
    assert.equal(cert.notBefore.toISOString(), "2029-12-31T23:00:00.000Z");
    assert.equal(cert.notAfter.toISOString(), "2030-01-01T01:00:00.000Z");
    assert.equal(c.notAfter.getTime(), cert.notAfter.getTime());
  });

  test("the private key signs for the certificate's public key and exports as PKCS#8 PEM", async () => {
    const c = await createChallengeCertificate({ identifier: "x.test", keyAuthorization: "k", crypto });
    assert.match(c.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    const data = new Uint8Array([1, 2, 3]);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, c.privateKey, data);
    const pub = await new x509.X509Certificate(c.certDer).publicKey.export(crypto);
    assert.equal(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, sig, data), true);
  });

  test("rejects bad identifiers, wildcards, empty key authorizations with ChallengeCertError", async () => {
    const cases: [string, string, string][] = [
      ["*.example.com", "k", "wildcard-identifier"],
      ["exa mple.com", "k", "invalid-identifier"],
      ["", "k", "invalid-identifier"],
      ["-a.example.com", "k", "invalid-identifier"],
      ["a.example.com", "", "invalid-key-authorization"],
    ];
    for (const [identifier, keyAuthorization, code] of cases) {
      await assert.rejects(
        createChallengeCertificate({ identifier, keyAuthorization, crypto }),
        (e: unknown) => e instanceof ChallengeCertError && e.code === code,
      );
    }
  });

  test("a digest instead of the key authorization gives the same acmeIdentifier value", async () => {
    const digest = await sha256(KEY_AUTH);
    const c = await createChallengeCertificate({ identifier: "a.example.test", digest, crypto });
    const cert = new x509.X509Certificate(c.certPem);
    checkCommon(cert, digest);
    assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
      { type: "dns", value: "a.example.test" },
    ]);
  });

  test("a digest must be 32 bytes, and not come with a key authorization", async () => {
    const refused = (code: string) => (e: unknown) => e instanceof ChallengeCertError && e.code === code;
    for (const digest of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
      await assert.rejects(
        createChallengeCertificate({ identifier: "a.example.test", digest, crypto }),
        refused("invalid-digest"),
      );
    }
    await assert.rejects(
      createChallengeCertificate({
        identifier: "a.example.test",
        digest: new Uint8Array(32),
        keyAuthorization: "k",
        crypto,
      }),
      refused("invalid-digest"),
    );
    await assert.rejects(
      createChallengeCertificate({ identifier: "a.example.test", crypto }),
      refused("invalid-key-authorization"),
    );
  });

  test("normalizeIdentifier() canonicalises names and addresses", () => {
    assert.deepEqual(normalizeIdentifier("Example.COM."), { type: "dns", value: "example.com" });
    assert.deepEqual(normalizeIdentifier("[::1]"), { type: "ip", value: "::1" });
    assert.deepEqual(normalizeIdentifier("10.0.0.1"), { type: "ip", value: "10.0.0.1" });
  });
});

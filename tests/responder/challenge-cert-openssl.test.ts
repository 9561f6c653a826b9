// The challenge certificate as OpenSSL reads it (Node runner).
import "reflect-metadata";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createChallengeCertificate } from "../../packages/core/src/challenge-cert.ts";

const dir = mkdtempSync(join(tmpdir(), "alpnmux-cert-"));

async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
}

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8" });
}

describe("challenge certificate through openssl", () => {
  for (const [identifier, san] of [
    ["a.example.test", "DNS:a.example.test"],
    ["192.0.2.7", "IP Address:192.0.2.7"],
    ["2001:db8::7", "IP Address:2001:DB8:0:0:0:0:0:7"],
  ] as const) {
    test(`${identifier}: one SAN, critical acmeIdentifier with 04 20 || sha256, valid self-signature`, async () => {
      const keyAuthorization = `tok-${identifier}.thumb`;
      const c = await createChallengeCertificate({ identifier, keyAuthorization, crypto });
      const pem = join(dir, `${identifier.replace(/[:.]/g, "_")}.pem`);
      const key = join(dir, `${identifier.replace(/[:.]/g, "_")}.key`);
      writeFileSync(pem, c.certPem);
      writeFileSync(key, c.keyPem);
      const text = openssl(["x509", "-in", pem, "-noout", "-text"]);
      assert.match(text, /Public Key Algorithm: id-ecPublicKey/);
      assert.match(text, /NIST CURVE: P-256/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
      const sanBlock = openssl(["x509", "-in", pem, "-noout", "-ext", "subjectAltName"]);
      assert.deepEqual(
        sanBlock
          .trim()
          .split("\n")
          .slice(1)
          .map((l) => l.trim()),
        [san],
      );
      const asn1 = openssl(["asn1parse", "-in", pem]);
      assert.ok(asn1.includes(`[HEX DUMP]:0420${await sha256Hex(keyAuthorization)}`));
      // Self-signed: it verifies against itself once the unknown critical extension is tolerated.
      const verify = openssl(["verify", "-CAfile", pem, "-ignore_critical", pem]);
      assert.match(verify, /OK/);
      // The key file matches the certificate.
      const certPub = openssl(["x509", "-in", pem, "-noout", "-pubkey"]);
      const keyPub = openssl(["pkey", "-in", key, "-pubout"]);
      assert.equal(certPub, keyPub);
    });
  }
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createCsr } from "./csr.ts";
import {
  type CertificateKeyType,
  exportPrivateKeyPem,
  generateCertificateKey,
  importPrivateKeyPem,
} from "./keys.ts";

const spki = async (k: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey("spki", k));

describe("certificate keys", () => {
  for (const type of ["ecdsa-p256", "ecdsa-p384", "rsa-2048"] as CertificateKeyType[]) {
    test(`${type}: PKCS#8 PEM round trip gives the same key pair, and it signs`, async () => {
      const keys = await generateCertificateKey(type);
      const pem = await exportPrivateKeyPem(keys);
      assert.match(
        pem,
        /^-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/,
      );
      const back = await importPrivateKeyPem(pem, type);
      assert.deepEqual(await spki(back.publicKey), await spki(keys.publicKey));
      assert.equal(await exportPrivateKeyPem(back), pem);
      const alg = type.startsWith("ecdsa")
        ? { name: "ECDSA", hash: type === "ecdsa-p384" ? "SHA-384" : "SHA-256" }
        : { name: "RSASSA-PKCS1-v1_5" };
      const data = new TextEncoder().encode("x");
      const sig = await crypto.subtle.sign(alg, back.privateKey, data);
      assert.ok(await crypto.subtle.verify(alg, keys.publicKey, sig, data));
    });
  }

  test("rsa-3072 has 3072 bits", async () => {
    const keys = await generateCertificateKey("rsa-3072");
    assert.equal((keys.publicKey.algorithm as RsaHashedKeyAlgorithm).modulusLength, 3072);
  });

  test("importPrivateKeyPem() refuses a key of another type and non-PEM text", async () => {
    const pem = await exportPrivateKeyPem(await generateCertificateKey("ecdsa-p256"));
    await assert.rejects(importPrivateKeyPem(pem, "rsa-2048"), /Cannot import the private key as rsa-2048/);
    await assert.rejects(importPrivateKeyPem("nope", "ecdsa-p256"), /no "PRIVATE KEY" block/);
    const rsa = await exportPrivateKeyPem(await generateCertificateKey("rsa-2048"));
    await assert.rejects(importPrivateKeyPem(rsa, "rsa-3072"), /it has 2048 bits/);
  });

  test("an unknown key type is a TypeError", async () => {
    await assert.rejects(generateCertificateKey("ed25519" as CertificateKeyType), TypeError);
  });
});

describe("createCsr()", () => {
  test("SANs of DNS and IP identifiers (IPv6 canonical), CN = the first DNS name, signature verifies", async () => {
    const keys = await generateCertificateKey("ecdsa-p256");
    const der = await createCsr(
      [
        { type: "ip", value: "2001:DB8:0:0::1" },
        { type: "dns", value: "A.Example.test" },
        { type: "dns", value: "b.example.test" },
      ],
      keys,
      "ecdsa-p256",
    );
    const csr = new x509.Pkcs10CertificateRequest(der);
    assert.ok(await csr.verify(crypto));
    assert.equal(csr.subject, "CN=a.example.test");
    const san = csr.extensions.find((e) => e instanceof x509.SubjectAlternativeNameExtension) as
      | x509.SubjectAlternativeNameExtension
      | undefined;
    assert.deepEqual(
      san?.names.items.map((n) => `${n.type}:${n.value}`),
      ["ip:2001:db8::1", "dns:a.example.test", "dns:b.example.test"],
    );
    assert.deepEqual(new Uint8Array(csr.publicKey.rawData), await spki(keys.publicKey));
  });

  test("only IPs: no subject; RSA keys sign with RSASSA-PKCS1-v1_5", async () => {
    const keys = await generateCertificateKey("rsa-2048");
    const csr = new x509.Pkcs10CertificateRequest(
      await createCsr([{ type: "ip", value: "203.0.113.7" }], keys, "rsa-2048"),
    );
    assert.equal(csr.subject, "");
    assert.ok(await csr.verify(crypto));
    assert.equal(csr.signatureAlgorithm.name, "RSASSA-PKCS1-v1_5");
  });

  test("bad identifiers are refused naming the entry", async () => {
    const keys = await generateCertificateKey("ecdsa-p256");
    await assert.rejects(createCsr([], keys, "ecdsa-p256"), /identifiers is empty/);
    await assert.rejects(
      createCsr(
        [
          { type: "dns", value: "ok.test" },
          { type: "ip", value: "300.1.1.1" },
        ],
        keys,
        "ecdsa-p256",
      ),
      /identifiers\[1\] "300.1.1.1" is not an IP address/,
    );
    await assert.rejects(
      createCsr([{ type: "dns", value: "10.0.0.1" }], keys, "ecdsa-p256"),
      /is not a DNS name/,
    );
  });
});

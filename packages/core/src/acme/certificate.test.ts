import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parseCertificate, splitPemChain } from "./certificate.ts";
import { AcmeError } from "./errors.ts";

const RFC9773 = readFileSync(new URL("./_testdata/rfc9773-example.pem", import.meta.url), "utf8");

describe("parseCertificate()", () => {
  test("RFC 9773, Section 4.1: the example certificate's ARI identifier keeps the serial's leading 00", () => {
    const info = parseCertificate(RFC9773);
    assert.equal(info.ariId, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert.equal(info.serial, "87654321");
    assert.equal(info.issuer, "CN=Example CA");
    assert.deepEqual(info.identifiers, []);
    assert.equal(info.publicKeySpki[0], 0x30);
  });

  test("the first certificate of a chain is the one parsed", () => {
    const info = parseCertificate(`${RFC9773}\n${RFC9773}`);
    assert.equal(info.ariId, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  });

  test("garbage: AcmeError bad-response naming what is wrong", () => {
    assert.throws(
      () => parseCertificate("hello"),
      (e: unknown) =>
        e instanceof AcmeError && e.code === "bad-response" && /no PEM CERTIFICATE/.test(e.message),
    );
    assert.throws(
      () => parseCertificate("-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----"),
      (e: unknown) =>
        e instanceof AcmeError && e.code === "bad-response" && /^Cannot parse certificate: /.test(e.message),
    );
  });
});

describe("splitPemChain()", () => {
  test("each CERTIFICATE block, in order, other blocks ignored", () => {
    const key = "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n";
    const blocks = splitPemChain(`${RFC9773}${key}${RFC9773.replace("MIIB", "MIIC")}`);
    assert.equal(blocks.length, 2);
    assert.ok(blocks[1]?.startsWith("-----BEGIN CERTIFICATE-----\nMIIC"));
    assert.deepEqual(splitPemChain(""), []);
  });
});

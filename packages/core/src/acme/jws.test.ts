import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { decodeBase64Url, encodeBase64Url } from "./base64url.ts";
import { accountJwk, createEabJws, jwkThumbprint, signJws } from "./jws.ts";
import { generateAccountKey } from "./keys.ts";

const text = (b64: string) => new TextDecoder().decode(decodeBase64Url(b64));

describe("base64url", () => {
  test("round-trips every length 0..40 and uses - and _", () => {
    for (let n = 0; n <= 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const b64 = encodeBase64Url(bytes);
      assert.equal(b64, Buffer.from(bytes).toString("base64url"));
      assert.deepEqual(decodeBase64Url(b64), bytes);
    }
    assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff, 0xbf])), "-_-_");
  });

  test("decodeBase64Url() rejects characters outside the alphabet and impossible lengths", () => {
    assert.throws(() => decodeBase64Url("ab+c"), /character "\+" at 2/);
    assert.throws(() => decodeBase64Url("abcde"), /length 5/);
  });
});

describe("signJws()", () => {
  test("an ES256 flattened JWS that WebCrypto verifies, with the protected header round-tripped", async () => {
    const keys = await generateAccountKey();
    const header = { nonce: "abc", url: "https://ca.test/new-order", kid: "https://ca.test/acct/1" };
    const payload = { identifiers: [{ type: "dns", value: "a.test" }] };
    const jws = await signJws(keys.privateKey, header, payload);
    assert.deepEqual(JSON.parse(text(jws.protected)), { alg: "ES256", ...header });
    assert.deepEqual(JSON.parse(text(jws.payload)), payload);
    const sig = decodeBase64Url(jws.signature);
    assert.equal(sig.length, 64, "raw r||s, not DER");
    const data = new TextEncoder().encode(`${jws.protected}.${jws.payload}`);
    assert.ok(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, sig, data));
    const tampered = new TextEncoder().encode(
      `${jws.protected}.${encodeBase64Url(new TextEncoder().encode("{}"))}`,
    );
    assert.equal(
      await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, sig, tampered),
      false,
    );
  });

  test("POST-as-GET has an empty payload", async () => {
    const keys = await generateAccountKey();
    const jws = await signJws(keys.privateKey, { nonce: "n", url: "u", kid: "k" }, "");
    assert.equal(jws.payload, "");
  });

  test("refuses a key that is not ECDSA P-256/P-384", async () => {
    const hmac = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    await assert.rejects(signJws(hmac, {}, ""), /must be ECDSA P-256/);
  });
});

describe("jwkThumbprint()", () => {
  test("RFC 7638, Section 3.1: the RSA example", async () => {
    const jwk = {
      kty: "RSA" as const,
      n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
    };
    assert.equal(await jwkThumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  });

  test("an EC key: SHA-256 of {crv,kty,x,y} in that order, no whitespace", async () => {
    const keys = await generateAccountKey();
    const jwk = await accountJwk(keys.publicKey);
    assert.deepEqual(Object.keys(jwk), ["crv", "kty", "x", "y"]);
    const full = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as Record<string, string>;
    const canonical = `{"crv":"P-256","kty":"EC","x":"${full.x}","y":"${full.y}"}`;
    const expected = createHash("sha256").update(canonical).digest("base64url");
    assert.equal(await jwkThumbprint(jwk), expected);
    // Member order in the input does not matter.
    assert.equal(await jwkThumbprint({ y: full.y, x: full.x, kty: "EC", crv: "P-256" } as never), expected);
  });

  test("a fixed EC key gives a fixed thumbprint", async () => {
    const jwk = {
      kty: "EC" as const,
      crv: "P-256",
      x: "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
      y: "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
    };
    const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
    assert.equal(await jwkThumbprint(jwk), createHash("sha256").update(canonical).digest("base64url"));
  });
});

describe("createEabJws()", () => {
  test("HS256 over the account JWK with kid = keyId and url = newAccount; the MAC verifies", async () => {
    const keys = await generateAccountKey();
    const jwk = await accountJwk(keys.publicKey);
    const macKey = crypto.getRandomValues(new Uint8Array(32));
    const hmacKey = encodeBase64Url(macKey);
    const eab = await createEabJws({ jwk, keyId: "kid-7", hmacKey, url: "https://ca.test/new-acct" });
    assert.deepEqual(Object.keys(eab).sort(), ["payload", "protected", "signature"]);
    assert.deepEqual(JSON.parse(text(eab.protected)), {
      alg: "HS256",
      kid: "kid-7",
      url: "https://ca.test/new-acct",
    });
    assert.deepEqual(JSON.parse(text(eab.payload)), jwk);
    const key = await crypto.subtle.importKey("raw", macKey, { name: "HMAC", hash: "SHA-256" }, false, [
      "verify",
    ]);
    const data = new TextEncoder().encode(`${eab.protected}.${eab.payload}`);
    assert.ok(await crypto.subtle.verify("HMAC", key, decodeBase64Url(eab.signature), data));
  });

  test("an hmacKey that is not base64url is refused with a clear message", async () => {
    const jwk = { kty: "EC" as const, crv: "P-256", x: "x", y: "y" };
    await assert.rejects(createEabJws({ jwk, keyId: "k", hmacKey: "not base64!", url: "u" }), /EAB hmacKey/);
    await assert.rejects(
      createEabJws({ jwk, keyId: "k", hmacKey: "", url: "u" }),
      /EAB hmacKey: it is empty/,
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { deriveSecret, EMPTY_HASH, hkdfExpand, hkdfExpandLabel, hkdfExtract, sha256 } from "./hkdf.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe("hkdf", () => {
  test("hkdfExtract() and hkdfExpand() match RFC 5869 test case 1", async () => {
    const prk = await hkdfExtract(crypto, hex("000102030405060708090a0b0c"), hex("0b".repeat(22)));
    assert.equal(toHex(prk), "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    const okm = await hkdfExpand(crypto, prk, hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    assert.equal(
      toHex(okm),
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
  });

  test("hkdfExpand() rejects lengths above 255 * 32", async () => {
    await assert.rejects(hkdfExpand(crypto, new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1), RangeError);
  });

  test("EMPTY_HASH is SHA-256 of nothing", async () => {
    assert.deepEqual(EMPTY_HASH, await sha256(crypto, new Uint8Array(0)));
  });

  // RFC 8448, Section 3: {server} extract secret "early" and derive secret for handshake "tls13 derived".
  test("hkdfExtract() gives the RFC 8448 early secret", async () => {
    const early = await hkdfExtract(crypto, new Uint8Array(0), new Uint8Array(32));
    assert.equal(toHex(early), "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a");
    const derived = await deriveSecret(crypto, early, "derived", EMPTY_HASH);
    assert.equal(toHex(derived), "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba");
  });

  test("hkdfExpandLabel() gives the RFC 8448 server handshake key and IV", async () => {
    const secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
    assert.equal(
      toHex(await hkdfExpandLabel(crypto, secret, "key", new Uint8Array(0), 16)),
      "3fce516009c21727d0f2e4e86ee403bc",
    );
    assert.equal(
      toHex(await hkdfExpandLabel(crypto, secret, "iv", new Uint8Array(0), 12)),
      "5d313eb2671276ee13000b30",
    );
  });
});

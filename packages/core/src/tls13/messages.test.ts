import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sha256 } from "./hkdf.ts";
import {
  certificate,
  certificateVerify,
  certificateVerifyInput,
  ecdsaRawToDer,
  encryptedExtensions,
  finished,
  HELLO_RETRY_REQUEST_RANDOM,
  helloRetryRequest,
  messageHash,
  serverHello,
} from "./messages.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function derToRaw(der: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(64);
  let i = 2;
  for (const half of [0, 32]) {
    assert.equal(der[i], 0x02);
    const len = der[i + 1] as number;
    const v = der.subarray(i + 2, i + 2 + len);
    const trimmed = v[0] === 0 ? v.subarray(1) : v;
    out.set(trimmed, half + 32 - trimmed.length);
    i += 2 + len;
  }
  assert.equal(i, der.length);
  return out;
}

describe("messages", () => {
  test("serverHello() rebuilds the RFC 8448 ServerHello byte for byte", () => {
    const sh = serverHello({
      random: hex("a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928"),
      sessionId: new Uint8Array(0),
      group: 0x001d,
      keyExchange: hex("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f"),
    });
    assert.equal(
      toHex(sh),
      "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304",
    );
  });

  test("serverHello() echoes the legacy session id", () => {
    const sid = new Uint8Array(32).fill(7);
    const sh = serverHello({
      random: new Uint8Array(32),
      sessionId: sid,
      group: 0x17,
      keyExchange: new Uint8Array(65),
    });
    assert.equal(sh[4 + 2 + 32], 32);
    assert.deepEqual(sh.subarray(4 + 2 + 32 + 1, 4 + 2 + 32 + 33), sid);
  });

  test("HELLO_RETRY_REQUEST_RANDOM is SHA-256 of 'HelloRetryRequest' and helloRetryRequest() uses it", async () => {
    assert.deepEqual(
      HELLO_RETRY_REQUEST_RANDOM,
      await sha256(crypto, new TextEncoder().encode("HelloRetryRequest")),
    );
    const hrr = helloRetryRequest(new Uint8Array(0), 0x0017);
    assert.deepEqual(hrr.subarray(6, 38), HELLO_RETRY_REQUEST_RANDOM);
    assert.equal(toHex(hrr.subarray(-12)), "002b00020304003300020017");
  });

  test("messageHash() is fe 00 00 20 || hash", () => {
    assert.equal(toHex(messageHash(new Uint8Array(32).fill(1))), `fe000020${"01".repeat(32)}`);
  });

  test("encryptedExtensions() carries exactly ALPN acme-tls/1", () => {
    // EE(8) len 19 | extensions len 17 | ALPN(16) len 13 | protocol_name_list len 11 | 10 "acme-tls/1"
    const name = toHex(new TextEncoder().encode("acme-tls/1"));
    assert.equal(
      toHex(encryptedExtensions("acme-tls/1")),
      `080000130011 0010000d 000b 0a${name}`.replace(/ /g, ""),
    );
  });

  test("certificate() frames one entry with empty extensions", () => {
    assert.equal(
      toHex(certificate(Uint8Array.of(0xaa, 0xbb))),
      "0b00000b 00 000007 000002aabb 0000".replace(/ /g, ""),
    );
  });

  test("finished() frames verify_data", () => {
    assert.equal(
      toHex(finished(hex("9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718"))),
      "140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718",
    );
  });

  test("ecdsaRawToDer() handles high bits and leading zeros", () => {
    const raw = new Uint8Array(64);
    raw[0] = 0x80; // r needs a 0x00 prefix
    raw[33] = 0x01; // s = 0x01 00 .. 00 (31 bytes) after dropping the leading zero
    const der = ecdsaRawToDer(raw);
    assert.equal(toHex(der.subarray(0, 5)), "3044022100");
    assert.deepEqual(derToRaw(der), raw);
    assert.equal(toHex(ecdsaRawToDer(new Uint8Array(64))), "3006020100020100");
    assert.throws(() => ecdsaRawToDer(new Uint8Array(63)), RangeError);
  });

  test("certificateVerify() signs the RFC 8446 content with ecdsa_secp256r1_sha256", async () => {
    const alg = { name: "ECDSA", namedCurve: "P-256" };
    const keys = (await crypto.subtle.generateKey(alg, false, ["sign", "verify"])) as CryptoKeyPair;
    const hash = await sha256(crypto, Uint8Array.of(1, 2, 3));
    const cv = await certificateVerify(crypto, keys.privateKey, hash);
    assert.equal(cv[0], 15);
    assert.equal(toHex(cv.subarray(4, 6)), "0403");
    const der = cv.subarray(8);
    assert.equal((cv[6] as number) * 256 + (cv[7] as number), der.length);
    const tbs = certificateVerifyInput(hash);
    assert.equal(tbs.length, 64 + 33 + 1 + 32);
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      keys.publicKey,
      derToRaw(der),
      tbs,
    );
    assert.equal(ok, true);
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ChallengeValueError,
  encodeBase64Url,
  MAX_KEY_AUTHORIZATION_LENGTH,
  parseChallengeValue,
  storedDigest,
} from "./challenge-value.ts";

const KA = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

async function sha256(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}
const hex = (b: Uint8Array, sep = ":") => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(sep);

describe("parseChallengeValue()", () => {
  test("a key authorization is kept as given", () => {
    assert.deepEqual(parseChallengeValue(KA), { format: "key-authorization", stored: KA });
    assert.deepEqual(parseChallengeValue("tok.thumb"), { format: "key-authorization", stored: "tok.thumb" });
  });

  test("the uacme form (base64url SHA-256, 43 characters) is stored as is", async () => {
    const b64 = encodeBase64Url(await sha256(KA));
    assert.equal(b64.length, 43);
    assert.deepEqual(parseChallengeValue(b64), { format: "digest-base64url", stored: b64 });
    assert.deepEqual(storedDigest(b64), await sha256(KA));
  });

  test("the dehydrated form (colon-separated hex, either case) and plain hex become base64url", async () => {
    const d = await sha256(KA);
    const want = encodeBase64Url(d);
    for (const v of [hex(d), hex(d).toUpperCase(), hex(d, "")]) {
      assert.deepEqual(parseChallengeValue(v), { format: "digest-hex", stored: want }, v);
    }
  });

  test("the value openssl prints for dehydrated names the same digest", () => {
    // printf 'tok.thumb' | openssl dgst -sha256 -c -hex | awk '{print $2}'
    const dehydrated =
      "b1:80:30:56:ba:83:b5:53:ae:25:9b:c0:1e:ea:d2:01:83:e8:12:de:5f:15:5f:c2:e1:b7:52:38:e5:be:a3:96";
    // printf 'tok.thumb' | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
    assert.equal(parseChallengeValue(dehydrated).stored, "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y");
  });

  test("anything else is refused with code invalid-challenge-value naming the three forms", () => {
    const d = "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y";
    const h =
      "b1:80:30:56:ba:83:b5:53:ae:25:9b:c0:1e:ea:d2:01:83:e8:12:de:5f:15:5f:c2:e1:b7:52:38:e5:be:a3:96";
    for (const v of [
      "",
      "no-dot",
      "a.b.c",
      "a b.c",
      ".thumb",
      "tok.",
      "tok.thumb=",
      d.slice(0, 42),
      `${d}A`,
      `${d}=`,
      d.replace("-", "+"),
      h.slice(0, -3),
      `${h}:00`,
      h.replace(":", "-"),
      h.replace(/:/g, " "),
      `${h.slice(0, 8)}${h.slice(8).replaceAll(":", "")}`,
      "g".repeat(64),
      42,
      null,
      undefined,
      ["tok.thumb"],
    ]) {
      assert.throws(
        () => parseChallengeValue(v),
        (e) =>
          e instanceof ChallengeValueError &&
          e instanceof TypeError &&
          e.code === "invalid-challenge-value" &&
          /^Invalid challenge value: /.test(e.message),
        String(v),
      );
    }
    assert.throws(
      () => parseChallengeValue("no-dot"),
      /key authorization "token\.thumbprint".*uacme.*dehydrated/,
    );
  });

  test("a 43-character value whose last character carries padding bits is refused as non-canonical", () => {
    // "sYAw…o5Y": Y = 24 (low bits 00); Z = 25 would set a padding bit.
    assert.throws(
      () => parseChallengeValue("sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Z"),
      /not canonical base64url/,
    );
  });

  test(`key authorizations longer than ${MAX_KEY_AUTHORIZATION_LENGTH} characters are refused`, () => {
    assert.throws(() => parseChallengeValue(`${"t".repeat(1020)}.thumb`), /1026 characters, more than 1024/);
    const long = `${"t".repeat(1018)}.thumb`;
    assert.equal(parseChallengeValue(long).stored, long);
  });
});

describe("encodeBase64Url() and storedDigest()", () => {
  test("RFC 4648 test vectors (base64url, no padding)", () => {
    const vectors: [string, string][] = [
      ["", ""],
      ["f", "Zg"],
      ["fo", "Zm8"],
      ["foo", "Zm9v"],
      ["foob", "Zm9vYg"],
      ["fooba", "Zm9vYmE"],
      ["foobar", "Zm9vYmFy"],
    ];
    for (const [plain, b64] of vectors) assert.equal(encodeBase64Url(new TextEncoder().encode(plain)), b64);
    assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff, 0xbf])), "-_-_");
  });

  test("random digests survive every form", () => {
    for (let i = 0; i < 200; i++) {
      const d = crypto.getRandomValues(new Uint8Array(32));
      const b64 = encodeBase64Url(d);
      assert.deepEqual(storedDigest(b64), d);
      assert.equal(parseChallengeValue(b64).stored, b64);
      assert.equal(parseChallengeValue(hex(d)).stored, b64);
    }
  });

  test("a stored key authorization holds no digest", () => {
    assert.equal(storedDigest(KA), null);
    assert.equal(storedDigest("k"), null);
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { ACME_IDENTIFIER_OID, ChallengeCertError } from "./challenge-cert.ts";
import { ChallengeCertCache, MemoryChallengeStore, reverseDnsToIp } from "./challenge-store.ts";
import { parseChallengeValue } from "./challenge-value.ts";

describe("MemoryChallengeStore", () => {
  test("set/get/delete/list with normalised identifiers", async () => {
    const s = new MemoryChallengeStore();
    await s.set("A.Example.Test", "k1");
    await s.set("2001:DB8::0:1", "k2");
    assert.equal((await s.get("a.example.test"))?.keyAuthorization, "k1");
    assert.equal((await s.get("2001:db8:0:0:0:0:0:1"))?.identifier, "2001:db8::1");
    assert.deepEqual(
      (await s.list()).map((e) => e.identifier),
      ["a.example.test", "2001:db8::1"],
    );
    assert.equal(await s.delete("A.EXAMPLE.TEST"), true);
    assert.equal(await s.delete("a.example.test"), false);
    assert.equal(await s.get("not valid!"), undefined);
  });

  test("entries expire after their TTL", async () => {
    let t = 1000;
    const s = new MemoryChallengeStore({ now: () => t, defaultTtlMs: 500 });
    await s.set("a.test", "k", 100);
    await s.set("b.test", "k");
    t = 1099;
    assert.ok(await s.get("a.test"));
    t = 1100;
    assert.equal(await s.get("a.test"), undefined);
    assert.deepEqual(
      (await s.list()).map((e) => e.identifier),
      ["b.test"],
    );
    t = 1500;
    assert.deepEqual(await s.list(), []);
  });

  test("rejects bad identifiers and empty key authorizations", async () => {
    const s = new MemoryChallengeStore();
    await assert.rejects(s.set("*.a.test", "k"), ChallengeCertError);
    await assert.rejects(s.set("a.test", ""), ChallengeCertError);
  });
});

describe("reverseDnsToIp()", () => {
  test("maps in-addr.arpa and ip6.arpa names", () => {
    assert.equal(reverseDnsToIp("4.3.2.1.in-addr.arpa"), "1.2.3.4");
    assert.equal(reverseDnsToIp("1.0.0.127.IN-ADDR.ARPA."), "127.0.0.1");
    assert.equal(
      reverseDnsToIp("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"),
      "2001:db8::1",
    );
  });

  test("returns null for other names", () => {
    for (const n of [
      "example.com",
      "3.2.1.in-addr.arpa",
      "256.3.2.1.in-addr.arpa",
      "01.3.2.1.in-addr.arpa",
      "1.0.ip6.arpa",
      "x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    ]) {
      assert.equal(reverseDnsToIp(n), null, n);
    }
  });
});

describe("ChallengeCertCache", () => {
  test("builds one certificate per (identifier, key authorization), shared by concurrent lookups", async () => {
    const store = new MemoryChallengeStore();
    await store.set("a.example.test", "k1");
    const cache = new ChallengeCertCache({ store, crypto });
    const [a, b, c] = await Promise.all([
      cache.getCertificate("a.example.test"),
      cache.getCertificate("A.EXAMPLE.TEST"),
      cache.getCertificate("a.example.test"),
    ]);
    assert.ok(a);
    assert.equal(a, b);
    assert.equal(a, c);
    await store.set("a.example.test", "k2");
    const d = await cache.getCertificate("a.example.test");
    assert.notEqual(d, a);
    assert.equal(cache.size, 1);
  });

  test("a stored digest and its key authorization give the same acmeIdentifier value", async () => {
    const ka = "tok.thumb";
    const store = new MemoryChallengeStore();
    await store.set("ka.test", ka);
    // The three forms of SHA-256("tok.thumb"): uacme's and dehydrated's are stored as base64url.
    await store.set("uacme.test", parseChallengeValue("sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y").stored);
    const dehydrated =
      "b1:80:30:56:ba:83:b5:53:ae:25:9b:c0:1e:ea:d2:01:83:e8:12:de:5f:15:5f:c2:e1:b7:52:38:e5:be:a3:96";
    await store.set("dehydrated.test", parseChallengeValue(dehydrated).stored);
    const cache = new ChallengeCertCache({ store, crypto });
    const want = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ka)));
    for (const name of ["ka.test", "uacme.test", "dehydrated.test"]) {
      const c = await cache.getCertificate(name);
      assert.ok(c, name);
      const ext = new x509.X509Certificate(c.certDer).getExtension(ACME_IDENTIFIER_OID);
      assert.deepEqual(
        new Uint8Array(ext?.value ?? new ArrayBuffer(0)),
        new Uint8Array([4, 32, ...want]),
        name,
      );
    }
  });

  test("maps reverse-DNS server names to IP identifiers and misses to undefined", async () => {
    const store = new MemoryChallengeStore();
    await store.set("127.0.0.1", "k");
    const cache = new ChallengeCertCache({ store, crypto });
    assert.equal((await cache.getCertificate("1.0.0.127.in-addr.arpa"))?.identifier, "127.0.0.1");
    assert.equal(await cache.getCertificate("b.example.test"), undefined);
    assert.equal(await cache.getCertificate(null), undefined);
  });

  test("expired challenges and certificates are not served", async () => {
    let t = Date.now();
    const store = new MemoryChallengeStore({ now: () => t });
    await store.set("a.test", "k", 1000);
    const cache = new ChallengeCertCache({ store, crypto, now: () => t, validityMs: 120_000 });
    const first = await cache.getCertificate("a.test");
    t += 500;
    await store.set("a.test", "k", 10 * 60_000);
    t += 61_000; // within a minute of notAfter: rebuilt
    const second = await cache.getCertificate("a.test");
    assert.ok(first && second);
    assert.notEqual(first, second);
    t += 20 * 60_000;
    assert.equal(await cache.getCertificate("a.test"), undefined);
  });
});

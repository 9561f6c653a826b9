import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeRedis } from "../../testing/fake-redis.ts";
import { ChallengeCertError } from "../challenge-cert.ts";
import { ChallengeCertCache, MemoryChallengeStore } from "../challenge-store.ts";
import { RedisChallengeStore } from "./challenge-store.ts";
import { RedisClient } from "./client.ts";
import { RedisError } from "./resp.ts";

function setup(opts: { keyPrefix?: string; defaultTtlMs?: number; timeoutMs?: number } = {}) {
  const fake = new FakeRedis();
  fake.now = 1000;
  const client = new RedisClient({ url: "redis://h", dial: fake.dial, timeoutMs: opts.timeoutMs ?? 2000 });
  const store = new RedisChallengeStore({
    client,
    now: () => fake.now,
    ...(opts.keyPrefix !== undefined ? { keyPrefix: opts.keyPrefix } : {}),
    ...(opts.defaultTtlMs !== undefined ? { defaultTtlMs: opts.defaultTtlMs } : {}),
    scanCount: 2,
  });
  return { fake, client, store };
}

describe("RedisChallengeStore", () => {
  test("behaves as MemoryChallengeStore for the same operations (same clock)", async () => {
    const { fake, client, store } = setup();
    const mem = new MemoryChallengeStore({ now: () => fake.now });
    const ops = async (s: RedisChallengeStore | MemoryChallengeStore) => {
      const out: unknown[] = [];
      fake.now = 1000;
      await s.set("A.Example.Test", "k1");
      await s.set("2001:DB8::0:1", "k2", 500);
      await s.set("b.example.test.", "k3", 1500);
      await s.set("127.0.0.1", "k4", Number.POSITIVE_INFINITY);
      await s.set("c.example.test", "k5", 0);
      out.push(await s.get("a.example.test"), await s.get("2001:db8:0:0:0:0:0:1"), await s.get("not valid!"));
      out.push((await s.list()).sort((a, b) => a.identifier.localeCompare(b.identifier)));
      fake.now += 500;
      out.push(await s.get("2001:db8::1"), await s.delete("2001:db8::1"));
      out.push(await s.delete("A.EXAMPLE.TEST"), await s.delete("a.example.test"), await s.delete("*bad*"));
      fake.now += 1000;
      out.push(await s.get("b.example.test"));
      out.push((await s.list()).map((e) => e.identifier).sort());
      return out;
    };
    assert.deepEqual(await ops(store), await ops(mem));
    client.close();
  });

  test("keys, values and PX as documented", async () => {
    const { fake, client, store } = setup({ keyPrefix: "edge1:" });
    await store.set("A.example.TEST", "tok.thumb", 1234.5);
    await store.set("[::1]", "ip.ka");
    assert.deepEqual(fake.log.slice(0, 2), [
      ["SET", "edge1:challenge:a.example.test", "tok.thumb", "PX", "1235"],
      ["SET", "edge1:challenge:::1", "ip.ka"],
    ]);
    assert.deepEqual(await store.get("a.example.test"), {
      identifier: "a.example.test",
      keyAuthorization: "tok.thumb",
      expiresAt: 1000 + 1235,
    });
    assert.equal((await store.get("::1"))?.expiresAt, Number.POSITIVE_INFINITY);
    client.close();
  });

  test("list() follows the SCAN cursor and skips keys of other prefixes and foreign keys", async () => {
    const { fake, client, store } = setup();
    for (let i = 0; i < 7; i++) await store.set(`n${i}.example.test`, `k${i}`);
    fake.db().set("other:challenge:x.test", { value: "no", expiresAt: Infinity });
    fake.db().set("alpnmux:challenge:NOT normalised", { value: "no", expiresAt: Infinity });
    const list = await store.list();
    assert.deepEqual(
      list.map((e) => e.identifier),
      [0, 1, 2, 3, 4, 5, 6].map((i) => `n${i}.example.test`),
    );
    assert.ok(fake.log.filter((c) => c[0] === "SCAN").length >= 4, "several SCAN pages");
    assert.ok(fake.log.some((c) => c[0] === "SCAN" && c[3] === "alpnmux:challenge:*"));
    client.close();
  });

  test("defaultTtlMs applies when set() gets no TTL", async () => {
    const { fake, client, store } = setup({ defaultTtlMs: 100 });
    await store.set("a.test", "k");
    assert.equal((await store.get("a.test"))?.expiresAt, 1100);
    fake.now = 1100;
    assert.equal(await store.get("a.test"), undefined);
    client.close();
  });

  test("bad identifiers and empty key authorizations are refused before Redis", async () => {
    const { fake, client, store } = setup();
    await assert.rejects(store.set("*.example.test", "k"), ChallengeCertError);
    await assert.rejects(
      store.set("a.test", ""),
      (e: unknown) => e instanceof ChallengeCertError && e.code === "invalid-key-authorization",
    );
    assert.deepEqual(fake.log, []);
    client.close();
  });

  test("Redis down: lookups fail within the timeout and the cert cache rethrows (the responder alerts)", async () => {
    const { fake, client, store } = setup({ timeoutMs: 50 });
    await store.set("a.test", "k");
    fake.hang = true;
    const certs = new ChallengeCertCache({ store, crypto: globalThis.crypto });
    const t0 = Date.now();
    await assert.rejects(
      certs.getCertificate("a.test"),
      (e: unknown) => e instanceof RedisError && e.code === "timeout",
    );
    assert.ok(Date.now() - t0 < 1000);
    fake.refuse = true;
    await assert.rejects(store.list(), (e: unknown) => e instanceof RedisError && e.code === "connection");
    client.close();
  });

  test("two stores on one Redis (two instances) see each other's challenges", async () => {
    const fake = new FakeRedis();
    const a = new RedisClient({ url: "redis://h", dial: fake.dial });
    const b = new RedisClient({ url: "redis://h", dial: fake.dial });
    const sa = new RedisChallengeStore({ client: a });
    const sb = new RedisChallengeStore({ client: b });
    await sa.set("shared.test", "ka");
    assert.equal((await sb.get("shared.test"))?.keyAuthorization, "ka");
    assert.equal(await sb.delete("shared.test"), true);
    assert.equal(await sa.get("shared.test"), undefined);
    a.close();
    b.close();
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeCertRedis, FakeClock } from "../../testing/fake-certs.ts";
import { RedisCoordinator } from "./shared.ts";

describe("RedisCoordinator", () => {
  test("one holder at a time; release deletes only its own lock; extend keeps it", async () => {
    const clock = new FakeClock(0);
    const redis = new FakeCertRedis(() => clock.now());
    const a = new RedisCoordinator({ client: redis, keyPrefix: "p:" });
    const b = new RedisCoordinator({ client: redis, keyPrefix: "p:" });
    const la = await a.lock("web", 60_000);
    assert.ok(la);
    assert.equal(await b.lock("web", 60_000), null, "contended");
    assert.ok(await b.lock("mail", 60_000), "another name is another lock");
    await clock.advanceTo(50_000);
    assert.equal(await la.extend(), true);
    await clock.advanceTo(100_000);
    assert.equal(await b.lock("web", 60_000), null, "extended past its first TTL");
    await clock.advanceTo(200_000); // expired
    const lb = await b.lock("web", 60_000);
    assert.ok(lb, "free once expired");
    await la.release(); // A's token no longer matches: B keeps the lock
    assert.equal(await a.lock("web", 60_000), null);
    assert.equal(await la.extend(), false);
    await lb.release();
    assert.ok(await a.lock("web", 60_000));
  });

  test("publish and read the shared certificate; garbage reads as none", async () => {
    const redis = new FakeCertRedis(() => Date.now());
    const c = new RedisCoordinator({ client: redis });
    assert.equal(await c.read("web"), null);
    const cert = {
      fullchain: "CHAIN",
      privkey: "KEY",
      notAfter: new Date(Date.now() + 86_400_000).toISOString(),
    };
    await c.publish("web", cert);
    assert.ok(redis.kv.has("alpnmux:cert:web"));
    assert.deepEqual(await c.read("web"), cert);
    redis.kv.set("alpnmux:cert:web", { value: "{not json", expiresAt: Infinity });
    assert.equal(await c.read("web"), null);
  });
});

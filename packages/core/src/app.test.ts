import "reflect-metadata";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeRedis } from "../testing/fake-redis.ts";
import { createInstance } from "./app.ts";
import { ConfigError, parseConfig } from "./config.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

function config(redis: Record<string, unknown>) {
  return parseConfig({
    listen: ["127.0.0.1:0"],
    default: "reject",
    challenges: { store: "redis", redis },
  });
}

const refused = (path: string, re: RegExp) => (e: unknown) =>
  e instanceof ConfigError && e.issues.some((i) => i.path === path && re.test(i.message));

describe("createInstance() with challenges.store: redis", () => {
  test("a rediss: URL dials TLS with the host as the name to verify and the caFile's PEM", async () => {
    const fake = new FakeRedis();
    const read: string[] = [];
    const instance = createInstance({
      config: config({ url: "rediss://redis.internal:6380/0", caFile: "/etc/alpnmux/redis-ca.pem" }),
      dial: fake.dial,
      readFile: (p) => {
        read.push(p);
        return PEM;
      },
    });
    assert.deepEqual(read, ["/etc/alpnmux/redis-ca.pem"], "read once, at start");
    await instance.store.set("a.example.test", "t.k");
    assert.deepEqual(fake.dialed, [
      { host: "redis.internal", port: 6380, tls: true, serverName: "redis.internal", ca: PEM },
    ]);
    instance.close();
  });

  test("without caFile, a rediss: dial has no ca (the runtime's roots); redis: is plain TCP", async () => {
    for (const [url, tls] of [
      ["rediss://10.0.0.7", true],
      ["redis://10.0.0.7", false],
    ] as const) {
      const fake = new FakeRedis();
      const instance = createInstance({ config: config({ url }), dial: fake.dial });
      await instance.store.get("a.example.test");
      assert.deepEqual(fake.dialed, [{ host: "10.0.0.7", port: 6379, tls, serverName: "10.0.0.7" }]);
      instance.close();
    }
  });

  test("close() closes the Redis connection", async () => {
    const fake = new FakeRedis();
    const instance = createInstance({ config: config({ url: "redis://h" }), dial: fake.dial });
    await instance.store.set("a.example.test", "t.k");
    assert.equal(fake.open, 1);
    instance.close();
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(fake.open, 0);
    await assert.rejects(instance.store.get("a.example.test"), /closed/);
  });

  test("a bad caFile is a config error naming challenges.redis.caFile", () => {
    const dial = new FakeRedis().dial;
    const cases: [Record<string, unknown>, (p: string) => string, RegExp][] = [
      [{ url: "redis://h", caFile: "/ca.pem" }, () => PEM, /rediss:\/\//],
      [
        { url: "rediss://h", caFile: "/nope.pem" },
        () => {
          throw new Error("ENOENT: no such file");
        },
        /cannot read \/nope\.pem: ENOENT/,
      ],
      [{ url: "rediss://h", caFile: "/key.pem" }, () => "-----BEGIN PRIVATE KEY-----", /no PEM certificate/],
    ];
    for (const [redis, readFile, re] of cases) {
      assert.throws(
        () => createInstance({ config: config(redis), dial, readFile }),
        refused("challenges.redis.caFile", re),
      );
    }
    assert.throws(
      () => createInstance({ config: config({ url: "rediss://h", caFile: "/ca.pem" }), dial }),
      refused("challenges.redis.caFile", /cannot read files/),
    );
    assert.throws(
      () => createInstance({ config: config({ url: "rediss://h" }) }),
      refused("challenges.store", /TCP/),
    );
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { RedisError } from "./resp.ts";
import { parseRedisUrl, redactRedisUrl } from "./url.ts";

test("parseRedisUrl() reads host, port, db and credentials", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1:6379/0"), {
    tls: false,
    host: "127.0.0.1",
    port: 6379,
    db: 0,
    username: undefined,
    password: undefined,
  });
  assert.deepEqual(parseRedisUrl("redis://redis.internal"), {
    tls: false,
    host: "redis.internal",
    port: 6379,
    db: 0,
    username: undefined,
    password: undefined,
  });
  assert.deepEqual(parseRedisUrl("redis://:p%40ss@[::1]:7000/3"), {
    tls: false,
    host: "::1",
    port: 7000,
    db: 3,
    username: undefined,
    password: "p@ss",
  });
  assert.deepEqual(parseRedisUrl("REDIS://alice:pw@h/"), {
    tls: false,
    host: "h",
    port: 6379,
    db: 0,
    username: "alice",
    password: "pw",
  });
});

test("parseRedisUrl() reads rediss: (TLS) URLs the same way", () => {
  assert.deepEqual(parseRedisUrl("rediss://:pw@redis.internal:6380/1"), {
    tls: true,
    host: "redis.internal",
    port: 6380,
    db: 1,
    username: undefined,
    password: "pw",
  });
  assert.deepEqual(parseRedisUrl("REDISS://[::1]"), {
    tls: true,
    host: "::1",
    port: 6379,
    db: 0,
    username: undefined,
    password: undefined,
  });
});

const bad: [string, RegExp][] = [
  ["http://h:6379", /expected "redis:.*"rediss:/],
  ["redisss://h", /expected "redis:/],
  ["rediss://h:", /port is empty/],
  ["rediss://", /host is missing|not a URL/],
  ["127.0.0.1:6379", /expected "redis:/],
  ["redis://", /host is missing|not a URL/],
  ["redis://h:0", /port 0 is out of range/],
  ["redis://h:99999", /not a URL|out of range/],
  ["redis://h:", /port is empty/],
  ["redis://h/x", /database "x"/],
  ["redis://h/01", /database "01"/],
  ["redis://h/1/2", /database/],
  ["redis://h?db=1", /query or fragment/],
  ["redis://h#x", /query or fragment/],
  ["redis://alice@h", /needs a password/],
];
for (const [url, re] of bad) {
  test(`parseRedisUrl() rejects ${url}`, () => {
    assert.throws(
      () => parseRedisUrl(url),
      (e: unknown) => e instanceof RedisError && e.code === "bad-url" && re.test(e.message),
    );
  });
}

test("errors and redactRedisUrl() never show the password", () => {
  assert.equal(redactRedisUrl("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
  assert.equal(redactRedisUrl("rediss://:secret@h:1/0"), "rediss://:***@h:1/0");
  assert.throws(
    () => parseRedisUrl("redis://:secret@h/zz"),
    (e: Error) => !e.message.includes("secret"),
  );
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeRedis } from "../../testing/fake-redis.ts";
import { RedisClient, type RedisConnection } from "./client.ts";
import { RedisError } from "./resp.ts";

const text = (v: unknown) => new TextDecoder().decode(v as Uint8Array);
const isCode = (code: string) => (e: unknown) => e instanceof RedisError && e.code === code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("RedisClient", () => {
  test("pipelined commands are answered in order on one connection", async () => {
    const fake = new FakeRedis();
    fake.chunk = 3; // replies split into 3-byte chunks
    const c = new RedisClient({ url: "redis://127.0.0.1:6379", dial: fake.dial });
    const replies = await Promise.all([
      c.command(["SET", "a", "1"]),
      c.command(["SET", "b", "2"]),
      c.command(["GET", "a"]),
      c.command(["GET", "b"]),
      c.command(["GET", "nope"]),
      c.command(["DEL", "a", "b"]),
    ]);
    assert.deepEqual(
      [replies[0], replies[1], text(replies[2]), text(replies[3]), replies[4], replies[5]],
      ["OK", "OK", "1", "2", null, 2],
    );
    assert.equal(fake.dials, 1);
    c.close();
  });

  test("AUTH and SELECT from the URL run first; a wrong password is a server error", async () => {
    const fake = new FakeRedis();
    fake.password = "s3cret";
    const c = new RedisClient({ url: "redis://:s3cret@h:1/2", dial: fake.dial });
    assert.equal(await c.command(["SET", "k", "v"]), "OK");
    assert.deepEqual(fake.log.slice(0, 3), [
      ["AUTH", "s3cret"],
      ["SELECT", "2"],
      ["SET", "k", "v"],
    ]);
    assert.equal(fake.db(2).get("k")?.value, "v");
    c.close();

    const wrong = new RedisClient({ url: "redis://user:nope@h:1", dial: fake.dial });
    await assert.rejects(
      wrong.command(["PING"]),
      (e: unknown) => isCode("server")(e) && /AUTH/.test(String(e)),
    );
    assert.deepEqual(fake.log.at(-1), ["AUTH", "user", "nope"]);
    wrong.close();
  });

  test("an error reply rejects only its own command", async () => {
    const fake = new FakeRedis();
    const c = new RedisClient({ url: "redis://h", dial: fake.dial });
    const [bad, good] = await Promise.allSettled([c.command(["BOGUS"]), c.command(["PING"])]);
    assert.ok(bad.status === "rejected" && isCode("server")(bad.reason));
    assert.deepEqual(good, { status: "fulfilled", value: "PONG" });
    c.close();
  });

  test("a silent server: the command times out, the connection is dropped, the next one reconnects", async () => {
    const fake = new FakeRedis();
    let t = 0;
    const c = new RedisClient({ url: "redis://h", dial: fake.dial, timeoutMs: 50, now: () => t });
    assert.equal(await c.command(["PING"]), "PONG");
    fake.hang = true;
    const started = Date.now();
    await assert.rejects(c.command(["GET", "k"]), isCode("timeout"));
    assert.ok(Date.now() - started < 1000);
    assert.equal(fake.open, 0, "the stuck connection was closed");
    // Within the backoff, commands fail at once without dialing.
    await assert.rejects(
      c.command(["PING"]),
      (e: unknown) => isCode("connection")(e) && /next attempt/.test(String(e)),
    );
    assert.equal(fake.dials, 1);
    fake.hang = false;
    t += 100;
    assert.equal(await c.command(["PING"]), "PONG");
    assert.equal(fake.dials, 2);
    c.close();
  });

  test("refused connections back off exponentially up to the cap, then recover", async () => {
    const fake = new FakeRedis();
    fake.refuse = true;
    let t = 0;
    const c = new RedisClient({
      url: "redis://h",
      dial: fake.dial,
      minBackoffMs: 100,
      maxBackoffMs: 400,
      now: () => t,
    });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await assert.rejects(c.command(["PING"]), isCode("connection"));
      let w = 0;
      while (true) {
        const before = fake.dials;
        await c.command(["PING"]).catch(() => {});
        if (fake.dials > before) break;
        t += 50;
        w += 50;
      }
      waits.push(w);
    }
    // After failures 1, 2, 3, …: 100, 200, 400, 400 ms before the next dial.
    assert.deepEqual(waits.slice(0, 4), [100, 200, 400, 400]);
    fake.refuse = false;
    t += 1000;
    assert.equal(await c.command(["PING"]), "PONG");
    c.close();
  });

  test("a dropped connection fails its pending commands; the next command reconnects at once", async () => {
    const fake = new FakeRedis();
    fake.hang = true;
    const c = new RedisClient({ url: "redis://h", dial: fake.dial, timeoutMs: 1000 });
    const pending = c.command(["GET", "k"]);
    await sleep(5);
    fake.dropAll();
    await assert.rejects(
      pending,
      (e: unknown) => isCode("connection")(e) && /closed the connection/.test(String(e)),
    );
    fake.hang = false;
    // A failure with a command in flight backs off (100 ms); an idle close would not.
    await sleep(120);
    assert.equal(await c.command(["PING"]), "PONG");
    fake.dropAll();
    await sleep(5);
    assert.equal(await c.command(["PING"]), "PONG", "idle close: immediate reconnect");
    assert.equal(fake.dials, 3);
    c.close();
  });

  test("a dial that never completes times out", async () => {
    const c = new RedisClient({
      url: "redis://h",
      dial: () => new Promise<RedisConnection>(() => {}),
      timeoutMs: 30,
    });
    await assert.rejects(c.command(["PING"]), isCode("timeout"));
    c.close();
  });

  test("garbage from the server is a protocol error; an unrequested reply too", async () => {
    const conn = (reply: string): RedisConnection => {
      let sent = false;
      let closed = false;
      return {
        write: async () => {},
        read: async () => {
          if (!sent) {
            sent = true;
            return new TextEncoder().encode(reply);
          }
          while (!closed) await sleep(5);
          return null;
        },
        close: () => {
          closed = true;
        },
      };
    };
    const a = new RedisClient({ url: "redis://h", dial: async () => conn("%0\r\n") });
    await assert.rejects(a.command(["PING"]), isCode("protocol"));
    a.close();
    const b = new RedisClient({ url: "redis://h", dial: async () => conn("+PONG\r\n+EXTRA\r\n") });
    await assert.rejects(
      b.command(["PING"]).then(() => b.command(["PING"])),
      isCode("protocol"),
    );
    b.close();
  });

  test("close() fails pending and later commands", async () => {
    const fake = new FakeRedis();
    fake.hang = true;
    const c = new RedisClient({ url: "redis://h", dial: fake.dial });
    const p = c.command(["PING"]);
    await sleep(5);
    c.close();
    await assert.rejects(p, isCode("connection"));
    await assert.rejects(c.command(["PING"]), /closed/);
  });

  test("the dial gets host, port, TLS, the name to verify and the CA", async () => {
    const fake = new FakeRedis();
    const plain = new RedisClient({ url: "redis://10.0.0.7:6380", dial: fake.dial });
    await plain.command(["PING"]);
    plain.close();
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const tls = new RedisClient({ url: "rediss://redis.internal/1", dial: fake.dial, ca: pem });
    await tls.command(["PING"]);
    tls.close();
    const roots = new RedisClient({ url: "rediss://[::1]:7000", dial: fake.dial });
    await roots.command(["PING"]);
    roots.close();
    assert.deepEqual(fake.dialed, [
      { host: "10.0.0.7", port: 6380, tls: false, serverName: "10.0.0.7" },
      { host: "redis.internal", port: 6379, tls: true, serverName: "redis.internal", ca: pem },
      { host: "::1", port: 7000, tls: true, serverName: "::1" },
    ]);
  });

  test("a TLS dial failure names the server, TLS and the reason", async () => {
    const c = new RedisClient({
      url: "rediss://127.0.0.1:6390",
      dial: async () => {
        throw new Error("certificate verification failed: unknown issuer");
      },
    });
    await assert.rejects(
      c.command(["PING"]),
      (e: unknown) =>
        isCode("connection")(e) &&
        (e as Error).message ===
          "Redis at 127.0.0.1:6390 (TLS): cannot connect: certificate verification failed: unknown issuer",
    );
    c.close();
  });

  test("a CA with a redis: (plain TCP) URL is refused at construction", () => {
    assert.throws(
      () => new RedisClient({ url: "redis://h", dial: new FakeRedis().dial, ca: "PEM" }),
      (e: unknown) => isCode("bad-url")(e) && /rediss:/.test(String(e)),
    );
  });

  test("a bad URL is a bad-url error at construction", () => {
    assert.throws(
      () => new RedisClient({ url: "redis://h:x", dial: new FakeRedis().dial }),
      isCode("bad-url"),
    );
  });
});

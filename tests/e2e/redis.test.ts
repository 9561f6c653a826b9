/**
 * @module redis.test — several alpnmux instances sharing challenges through one real Redis.
 *
 * Two routers (A and B, each with its own listen and admin port) use `challenges.store: redis`
 * on one `redis-server`. A challenge stored through A's admin API is served by B to a
 * validator (openssl, and Pebble through acme-client); B lists and deletes it for both; a TTL
 * set through A expires for B. With Redis stopped, a validation gets an alert within the
 * store timeout + 1 s, the router keeps running, `/healthz` answers, and the admin API says
 * the store is unavailable; once Redis is back, challenges are served again.
 *
 * Over TLS (`rediss:`, a TLS-only redis-server with a certificate from a test CA, and
 * `challenges.redis.caFile`): a challenge set through instance C is served by instance D; an
 * instance trusting another CA refuses the server with a clear error, and a missing CA file
 * stops the command at start.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { issueWithAcmeClient } from "../_harness/acme.ts";
import {
  adminFetch,
  apiError,
  type BuiltinRouter,
  connLines,
  firstPem,
  startBuiltinRouter,
  waitConn,
  x509Text,
} from "../_harness/admin.ts";
import { createCA, issueCert } from "../_harness/certs.ts";
import { opensslClient, tlsProbe } from "../_harness/clients.ts";
import { type Pebble, startPebble } from "../_harness/pebble.ts";
import { freePort, waitForPort } from "../_harness/ports.ts";
import { type Proc, spawnProc, workspace } from "../_harness/proc.ts";
import { type RedisServer, redisServerArgv, startRedisServer } from "../_harness/redis.ts";
import { spawnRouter } from "../_harness/router.ts";

const ws = workspace("redis", after);
const TIMEOUT_MS = 1000;
const PREFIX = `e2e-${process.pid}:`;
const ACME_ID = /06082b0601050507011f0101ff04220420([0-9a-f]{64})/;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

let redisPort: number;
let redis: Proc;
let pebble: Pebble;
let a: BuiltinRouter;
let b: BuiltinRouter;

function startRedis(label: string): Proc {
  return spawnProc(ws, label, redisServerArgv(redisPort));
}

function redisCli(...args: string[]): string {
  return execFileSync("redis-cli", ["-p", String(redisPort), ...args], { encoding: "utf8" }).trim();
}

/** The acmeIdentifier digest a validator gets from `router` for `sni`, or null on an alert. */
async function served(router: BuiltinRouter, sni: string): Promise<string | null> {
  try {
    const r = await tlsProbe({ port: router.port, servername: sni, alpn: ["acme-tls/1"], readMs: 50 });
    assert.equal(r.alpn, "acme-tls/1");
    return ACME_ID.exec(r.cert.raw.toString("hex"))?.[1] ?? null;
  } catch {
    return null;
  }
}

before(async () => {
  redisPort = await freePort();
  redis = startRedis("redis-server");
  await waitForPort(redisPort, { timeoutMs: 10_000 });
  pebble = await startPebble(ws);
  const config = {
    challenges: {
      store: "redis",
      redis: { url: `redis://127.0.0.1:${redisPort}/0`, keyPrefix: PREFIX, timeout: `${TIMEOUT_MS}ms` },
    },
  };
  const def = await freePort(); // nothing listens: only validations are sent
  [a, b] = await Promise.all([
    startBuiltinRouter(ws, { def, label: "alpnmux-a", config }),
    startBuiltinRouter(ws, { def, label: "alpnmux-b", config, port: pebble.tlsPort }),
  ]);
});

describe("two instances, one Redis", () => {
  test("a challenge stored through A is served by B (openssl: acme-tls/1 + acmeIdentifier)", async () => {
    const ka = "tok-A_1.thumb-Print_2";
    const put = await adminFetch(a, "PUT", "/v1/challenges/a.example.test", { keyAuthorization: ka });
    assert.equal(put.status, 201, put.text);
    assert.equal(redisCli("GET", `${PREFIX}challenge:a.example.test`), ka);

    const res = await opensslClient({
      port: b.port,
      servername: "a.example.test",
      alpn: ["acme-tls/1"],
      holdMs: 500,
    });
    assert.ok(res.handshake, res.stdout + res.stderr);
    assert.match(res.stdout, /^ALPN protocol: acme-tls\/1$/m);
    const pem = firstPem(res.stdout);
    assert.ok(pem, res.stdout);
    const text = x509Text(pem);
    assert.match(text, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
    assert.match(text, /DNS:a\.example\.test/);
    assert.equal(ACME_ID.exec(new X509Certificate(pem).raw.toString("hex"))?.[1], sha256(ka));
    await waitConn(b, (c) => c.sni === "a.example.test" && c.outcome === "challenge-served");

    // B lists it; B deletes it; A no longer has it.
    const list = await adminFetch(b, "GET", "/v1/challenges");
    assert.deepEqual(list.json, { challenges: [{ identifier: "a.example.test", expiresAt: null }] });
    assert.equal((await adminFetch(b, "DELETE", "/v1/challenges/a.example.test")).status, 200);
    assert.equal((await adminFetch(a, "DELETE", "/v1/challenges/a.example.test")).status, 404);
    assert.equal(await served(a, "a.example.test"), null);
    assert.deepEqual((await adminFetch(a, "GET", "/v1/challenges")).json, { challenges: [] });
  });

  test("a TTL set through A expires for B; a replacement through B is served by A", async () => {
    const put = await adminFetch(a, "PUT", "/v1/challenges/short.example.test", {
      keyAuthorization: "short.ka",
      ttlSeconds: 1,
    });
    assert.equal(put.status, 201, put.text);
    const pttl = Number(redisCli("PTTL", `${PREFIX}challenge:short.example.test`));
    assert.ok(pttl > 0 && pttl <= 1000, `PTTL ${pttl}`);
    const listed = (await adminFetch(b, "GET", "/v1/challenges")).json as {
      challenges: { identifier: string; expiresAt: string }[];
    };
    const exp = Date.parse(
      listed.challenges.find((c) => c.identifier === "short.example.test")?.expiresAt ?? "",
    );
    assert.ok(Math.abs(exp - Date.now() - 1000) < 1000, JSON.stringify(listed));
    assert.equal(await served(b, "short.example.test"), sha256("short.ka"));
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(await served(b, "short.example.test"), null);
    await waitConn(b, (c) => c.sni === "short.example.test" && c.outcome === "challenge-missing");

    // Replace through B (case-insensitive identifier): A serves the new key authorization.
    await adminFetch(a, "PUT", "/v1/challenges/swap.example.test", { keyAuthorization: "first.ka" });
    assert.equal(await served(a, "swap.example.test"), sha256("first.ka"));
    const r = await adminFetch(b, "PUT", "/v1/challenges/SWAP.example.test", {
      keyAuthorization: "second.ka",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(await served(a, "swap.example.test"), sha256("second.ka"));
    assert.equal((await adminFetch(a, "DELETE", "/v1/challenges/swap.example.test")).status, 200);
  });

  test("Pebble validates through B while the ACME client talks only to A's admin API", {
    timeout: 60_000,
  }, async () => {
    const ids = ["p1.redis.test", "p2.redis.test"];
    const issued = await issueWithAcmeClient({
      pebble,
      identifiers: ids,
      challengeCreateFn: async (id, keyAuthorization) => {
        const r = await adminFetch(a, "PUT", `/v1/challenges/${id}`, { keyAuthorization, ttlSeconds: 300 });
        assert.equal(r.status, 201, r.text);
      },
      challengeRemoveFn: async (id) => {
        const r = await adminFetch(a, "DELETE", `/v1/challenges/${id}`);
        assert.equal(r.status, 200, r.text);
      },
    });
    assert.deepEqual(issued.removeErrors, []);
    assert.deepEqual(
      issued.authorizations.map((x) => `${x.identifier}:${x.challengeType}:${x.status}`).sort(),
      ids.map((id) => `${id}:tls-alpn-01:valid`),
    );
    for (const id of ids) {
      await waitConn(b, (c) => c.sni === id && c.outcome === "challenge-served");
      assert.equal(connLines(a).filter((c) => c.sni === id).length, 0, "A saw no validation");
    }
    console.log(`# redis: Pebble issued for ${ids.join(", ")} in ${issued.elapsedMs} ms, validated by B`);
  });

  test("Redis stopped: a prompt alert, the routers survive, /healthz answers, the admin API says 500; Redis back: served again", async () => {
    await adminFetch(a, "PUT", "/v1/challenges/down.example.test", { keyAuthorization: "down.ka" });
    assert.equal(await served(b, "down.example.test"), sha256("down.ka"));
    await redis.stop();

    const t0 = Date.now();
    const res = await opensslClient({
      port: b.port,
      servername: "down.example.test",
      alpn: ["acme-tls/1"],
      holdMs: 100,
      timeoutMs: 5000,
    });
    const elapsed = Date.now() - t0;
    assert.equal(res.handshake, false, res.stdout);
    assert.match(res.stderr, /alert/i);
    assert.ok(elapsed < TIMEOUT_MS + 1000, `alert after ${elapsed} ms`);
    const line = await waitConn(b, (c) => c.sni === "down.example.test" && c.outcome === "challenge-failed");
    assert.match(line.error ?? "", /challenge lookup failed: RedisError/);

    // A second validation right away (within the reconnect backoff) fails fast too.
    const t1 = Date.now();
    assert.equal(await served(a, "down.example.test"), null);
    assert.ok(Date.now() - t1 < TIMEOUT_MS + 1000);

    for (const r of [a, b]) {
      assert.equal(r.proc.exitStatus(), undefined, `router exited; log ${r.proc.logPath}`);
      const h = await adminFetch(r, "GET", "/healthz");
      assert.equal(h.status, 200, h.text);
      assert.equal((h.json as { status: string }).status, "ok");
    }
    const put = await adminFetch(a, "PUT", "/v1/challenges/x.example.test", { keyAuthorization: "x.ka" });
    assert.equal(put.status, 500, put.text);
    assert.equal(apiError(put).code, "internal");
    assert.match(apiError(put).message ?? "", /^Challenge store unavailable: /);

    redis = startRedis("redis-server-2");
    await waitForPort(redisPort, { timeoutMs: 10_000 });
    // The store is empty again (no persistence); after the backoff (≤ 2 s) writes work again.
    const deadline = Date.now() + 5000;
    let again = await adminFetch(a, "PUT", "/v1/challenges/back.example.test", {
      keyAuthorization: "back.ka",
    });
    while (again.status !== 201 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      again = await adminFetch(a, "PUT", "/v1/challenges/back.example.test", { keyAuthorization: "back.ka" });
    }
    assert.equal(again.status, 201, again.text);
    let digest = await served(b, "back.example.test");
    while (digest === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      digest = await served(b, "back.example.test");
    }
    assert.equal(digest, sha256("back.ka"));

    // A hung Redis (SIGSTOP: connections open, no replies): the per-command timeout bounds the
    // lookup, so the validator still gets its alert within the timeout + 1 s.
    process.kill(redis.pid, "SIGSTOP");
    try {
      const t2 = Date.now();
      assert.equal(await served(b, "back.example.test"), null);
      const hung = Date.now() - t2;
      assert.ok(hung >= TIMEOUT_MS - 100 && hung < TIMEOUT_MS + 1000, `alert after ${hung} ms`);
      await waitConn(b, (c) => c.sni === "back.example.test" && /timeout|longer than/.test(c.error ?? ""));
      console.log(`# redis: alert after ${elapsed} ms (Redis stopped), ${hung} ms (Redis hung)`);
    } finally {
      process.kill(redis.pid, "SIGCONT");
    }
    assert.equal(b.proc.exitStatus(), undefined);
  });
});

describe("two instances, one Redis over TLS (rediss: with challenges.redis.caFile)", () => {
  let server: RedisServer;
  let caFile: string;
  let wrongCaFile: string;
  let c: BuiltinRouter;
  let d: BuiltinRouter;
  const tlsConfig = (ca: string, prefix = PREFIX) => ({
    challenges: {
      store: "redis",
      redis: {
        url: `rediss://127.0.0.1:${server.port}/0`,
        caFile: ca,
        keyPrefix: prefix,
        timeout: `${TIMEOUT_MS}ms`,
      },
    },
  });

  before(async () => {
    const ca = createCA(ws.subdir("redis-pki"), "alpnmux redis test CA");
    caFile = ca.certPath;
    wrongCaFile = createCA(ws.subdir("other-pki"), "some other CA").certPath;
    // TLS only (--port 0): whatever C and D exchange with it went through TLS.
    server = await startRedisServer(ws, {
      label: "redis-tls",
      tls: issueCert(ca, ["localhost", "127.0.0.1"]),
    });
    assert.equal(server.cli("PING"), "PONG");
    const def = await freePort();
    [c, d] = await Promise.all([
      startBuiltinRouter(ws, { def, label: "alpnmux-c", config: tlsConfig(caFile) }),
      startBuiltinRouter(ws, { def, label: "alpnmux-d", config: tlsConfig(caFile) }),
    ]);
  });

  test("a challenge stored through C is served by D", async () => {
    const ka = "tok-tls.thumb-print";
    const put = await adminFetch(c, "PUT", "/v1/challenges/tls.example.test", { keyAuthorization: ka });
    assert.equal(put.status, 201, put.text);
    assert.equal(server.cli("GET", `${PREFIX}challenge:tls.example.test`), ka);
    assert.equal(await served(d, "tls.example.test"), sha256(ka));
    await waitConn(d, (x) => x.sni === "tls.example.test" && x.outcome === "challenge-served");
    assert.deepEqual((await adminFetch(d, "GET", "/v1/challenges")).json, {
      challenges: [{ identifier: "tls.example.test", expiresAt: null }],
    });
    assert.equal((await adminFetch(d, "DELETE", "/v1/challenges/tls.example.test")).status, 200);
    assert.equal(await served(c, "tls.example.test"), null);
  });

  test("a server certificate from another CA is refused with a clear error; the router keeps running", async () => {
    const e = await startBuiltinRouter(ws, {
      def: await freePort(),
      label: "alpnmux-wrong-ca",
      config: tlsConfig(wrongCaFile, `${PREFIX}wrong:`),
    });
    const put = await adminFetch(e, "PUT", "/v1/challenges/w.example.test", { keyAuthorization: "w.ka" });
    assert.equal(put.status, 500, put.text);
    const message = apiError(put).message ?? "";
    assert.match(
      message,
      new RegExp(
        `^Challenge store unavailable: Redis at 127\\.0\\.0\\.1:${server.port} \\(TLS\\): cannot connect: TLS handshake failed: .*(SELF_SIGNED_CERT_IN_CHAIN|UnknownIssuer)`,
      ),
    );
    console.log(`# redis over TLS, wrong CA: ${message}`);
    assert.equal(server.cli("KEYS", `${PREFIX}wrong:*`), "", "nothing was written");
    assert.equal(await served(e, "w.example.test"), null);
    assert.equal(e.proc.exitStatus(), undefined, `router exited; log ${e.proc.logPath}`);
    await e.stop();
  });

  test("a missing CA file stops the command at start, naming the field", async () => {
    const file = `${ws.dir}/missing-ca.yaml`;
    const config = tlsConfig(`${ws.dir}/no-such-ca.pem`);
    fs.writeFileSync(file, JSON.stringify(config));
    const r = await spawnRouter(
      ws,
      ["--listen", `127.0.0.1:${await freePort()}`, "--default", "127.0.0.1:1", "--config", file],
      { label: "alpnmux-missing-ca", noWait: true },
    );
    const exit = await r.proc.exited;
    assert.equal(exit.code, 1, r.proc.output());
    assert.match(r.proc.output(), /challenges\.redis\.caFile: cannot read .*no-such-ca\.pem/);
  });
});

/**
 * @module admin.test — the admin API and `alpnmux challenge` against a running alpnmux:
 * bearer auth, input checks with clear messages, a rejected route table that leaves the running
 * one in force, a route swap that leaves a live spliced connection alone while new connections
 * follow the new table, the challenge CLI (exit codes, output), and the refusal to expose the API
 * on a non-loopback address without a token.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import {
  ADMIN_TOKEN,
  adminFetch,
  apiError,
  type BuiltinRouter,
  challengeCli,
  metricValue,
  startBuiltinRouter,
  waitConn,
} from "../_harness/admin.ts";
import {
  type HashBackend,
  startHashBackend,
  startTlsIdentityServer,
  type TlsIdentityServer,
} from "../_harness/backends.ts";
import { type CertAuthority, createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import { captureNodeHello, opensslClient } from "../_harness/clients.ts";
import { freePort } from "../_harness/ports.ts";
import { runProc, workspace } from "../_harness/proc.ts";
import { routerCommand, spawnRouter } from "../_harness/router.ts";

const ws = workspace("admin", after);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let ca: CertAuthority;
let leaf: LeafCert;
let one: TlsIdentityServer;
let two: TlsIdentityServer;
let router: BuiltinRouter;

before(async () => {
  ca = createCA(ws.subdir("pki"));
  leaf = issueCert(ca, ["live.example.test", "a.example.test"]);
  one = await startTlsIdentityServer(ws, { name: "one", cert: leaf });
  two = await startTlsIdentityServer(ws, { name: "two", cert: leaf });
  router = await startBuiltinRouter(ws, { def: one.port });
});

/** A TLS connection through the router that reads `who=` and echoes lines. */
interface LiveConn {
  readonly socket: tls.TLSSocket;
  readonly who: string;
  /** Writes `line\n` and resolves with the echoed line. */
  echo(line: string): Promise<string>;
}

async function liveConn(port: number, servername = "live.example.test"): Promise<LiveConn> {
  const socket = tls.connect({ host: "127.0.0.1", port, servername, ca: ca.cert });
  let buf = "";
  const waiters: (() => void)[] = [];
  socket.setEncoding("utf8");
  socket.on("data", (c: string) => {
    buf += c;
    for (const w of waiters.splice(0)) w();
  });
  const nextLine = (timeoutMs = 3000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line within ${timeoutMs} ms (have ${JSON.stringify(buf)})`)),
        timeoutMs,
      );
      const check = () => {
        const i = buf.indexOf("\n");
        if (i < 0) {
          waiters.push(check);
          return;
        }
        clearTimeout(timer);
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        resolve(line);
      };
      check();
    });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  const who = (await nextLine()).replace(/^who=/, "");
  return {
    socket,
    who,
    echo: async (line) => {
      socket.write(`${line}\n`);
      return nextLine();
    },
  };
}

describe("auth", () => {
  test("/healthz needs no token; every other endpoint answers 401 without or with a wrong token", async () => {
    const h = await adminFetch(router, "GET", "/healthz", undefined, { token: null });
    assert.equal(h.status, 200, h.text);
    assert.equal((h.json as { status: string }).status, "ok");

    const calls: [string, string, unknown][] = [
      ["GET", "/v1/challenges", undefined],
      ["PUT", "/v1/challenges/auth.example.test", { keyAuthorization: "tok.thumb" }],
      ["DELETE", "/v1/challenges/auth.example.test", undefined],
      ["GET", "/v1/routes", undefined],
      ["PUT", "/v1/routes", { default: `127.0.0.1:${two.port}` }],
      ["GET", "/metrics", undefined],
    ];
    for (const [method, path, body] of calls) {
      const none = await adminFetch(router, method, path, body, { token: null });
      assert.equal(none.status, 401, `${method} ${path} without token: ${none.text}`);
      assert.equal(apiError(none).code, "unauthorized");
      assert.match(apiError(none).message ?? "", /Authorization: Bearer <token> is required/);
      assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="alpnmux"');

      const wrong = await adminFetch(router, method, path, body, { token: `${ADMIN_TOKEN}x` });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong token: ${wrong.text}`);
      assert.match(apiError(wrong).message ?? "", /not valid/);
      assert.match(wrong.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
    }
    // Basic auth carrying the right token is still not a bearer token.
    const basic = await fetch(`${router.adminUrl}/v1/challenges`, {
      headers: { authorization: `Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString("base64")}` },
    });
    assert.equal(basic.status, 401);

    // Nothing the refused calls asked for happened.
    const list = await adminFetch(router, "GET", "/v1/challenges");
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, { challenges: [] });
    const routes = await adminFetch(router, "GET", "/v1/routes");
    assert.equal(
      (routes.json as { default: { upstream: string } }).default.upstream,
      `127.0.0.1:${one.port}`,
    );
  });
});

describe("bad input", () => {
  test("challenges: bad identifier, key authorization, ttl and JSON are 400 with a clear message", async () => {
    const cases: { path: string; body: unknown; code: string; field?: string; message: RegExp }[] = [
      {
        path: "/v1/challenges/*.example.test",
        body: { keyAuthorization: "tok.thumb" },
        code: "invalid-identifier",
        field: "identifier",
        message: /Invalid identifier "\*\.example\.test": wildcard/,
      },
      {
        path: "/v1/challenges/under_score.example.test",
        body: { keyAuthorization: "tok.thumb" },
        code: "invalid-identifier",
        field: "identifier",
        message: /not an IP address or a host name/,
      },
      {
        path: "/v1/challenges/a.example.test",
        body: { keyAuthorization: "not a key authorization" },
        code: "invalid-key-authorization",
        field: "keyAuthorization",
        message: /Invalid keyAuthorization: expected "token\.thumbprint"/,
      },
      {
        path: "/v1/challenges/a.example.test",
        body: { keyAuthorization: 42 },
        code: "invalid-key-authorization",
        field: "keyAuthorization",
        message: /expected a string/,
      },
      {
        path: "/v1/challenges/a.example.test",
        body: { keyAuthorization: "tok.thumb", ttlSeconds: -5 },
        code: "invalid-ttl",
        field: "ttlSeconds",
        message: /Invalid ttlSeconds/,
      },
      {
        path: "/v1/challenges/a.example.test",
        body: '{"keyAuthorization": "tok.thumb"',
        code: "bad-json",
        message: /Cannot parse request body as JSON/,
      },
      {
        path: "/v1/challenges/a.example.test",
        body: "[1, 2]",
        code: "bad-request",
        message: /Expected a JSON object \{ keyAuthorization, ttlSeconds\? \}/,
      },
    ];
    for (const c of cases) {
      const r = await adminFetch(router, "PUT", c.path, c.body);
      assert.equal(r.status, 400, `${c.path} ${JSON.stringify(c.body)}: ${r.text}`);
      const e = apiError(r);
      assert.equal(e.code, c.code, r.text);
      assert.match(e.message ?? "", c.message);
      if (c.field !== undefined) assert.equal(e.path, c.field);
    }
    const del = await adminFetch(router, "DELETE", "/v1/challenges/never.example.test");
    assert.equal(del.status, 404);
    assert.equal(apiError(del).code, "challenge-not-found");
    const list = await adminFetch(router, "GET", "/v1/challenges");
    assert.deepEqual(list.json, { challenges: [] }, "a rejected PUT stored something");
  });

  test("a tiny positive ttlSeconds must not store a challenge that never expires", async () => {
    // ttlSeconds 0.0001 is inside the accepted range (0, 604800]; it must expire (or be refused),
    // not be rounded to ttlMs 0, which the store reads as "no expiry".
    const r = await adminFetch(router, "PUT", "/v1/challenges/tiny-ttl.example.test", {
      keyAuthorization: "tok.thumb",
      ttlSeconds: 0.0001,
    });
    try {
      if (r.status === 400) {
        assert.equal(apiError(r).code, "invalid-ttl");
        return;
      }
      assert.equal(r.status, 201, r.text);
      const expiresAt = (r.json as { expiresAt: string | null }).expiresAt;
      assert.notEqual(expiresAt, null, `ttlSeconds 0.0001 stored a challenge that never expires: ${r.text}`);
      await sleep(50);
      const list = (await adminFetch(router, "GET", "/v1/challenges")).json as { challenges: unknown[] };
      assert.deepEqual(list.challenges, [], "the challenge outlived its TTL");
    } finally {
      await adminFetch(router, "DELETE", "/v1/challenges/tiny-ttl.example.test");
    }
  });

  test("PUT /v1/routes with an upstream without port or a bad SNI pattern is 400 naming the path; the running table stays", async () => {
    const before = await adminFetch(router, "GET", "/v1/routes");
    assert.equal(before.status, 200);
    const reloads = metricValue(
      (await adminFetch(router, "GET", "/metrics")).text,
      'alpnmux_config_reloads_total{result="error"}',
    );

    const bad = await adminFetch(router, "PUT", "/v1/routes", {
      routes: [{ name: "web", match: { sni: ["live.example.test"] }, target: { upstream: "10.0.0.5" } }],
      default: { upstream: `127.0.0.1:${two.port}` },
    });
    assert.equal(bad.status, 400, bad.text);
    const e = apiError(bad);
    assert.equal(e.code, "invalid-config");
    assert.ok(
      (e.issues ?? []).some((i) => i.path === "routes[0].target.upstream"),
      `issues do not name routes[0].target.upstream: ${bad.text}`,
    );
    assert.match(e.message ?? "", /routes\[0\]\.target\.upstream/);

    const pattern = await adminFetch(router, "PUT", "/v1/routes", {
      routes: [{ name: "web", match: { sni: ["a.*.example.test"] }, target: "reject" }],
      default: "reject",
    });
    assert.equal(pattern.status, 400, pattern.text);
    assert.equal(apiError(pattern).code, "invalid-config");
    const issue = (apiError(pattern).issues ?? []).find((i) => i.path === "routes[0].match.sni[0]");
    assert.ok(issue, `issues do not name routes[0].match.sni[0]: ${pattern.text}`);
    assert.match(issue.message, /a\.\*\.example\.test/);

    const extra = await adminFetch(router, "PUT", "/v1/routes", {
      default: { upstream: `127.0.0.1:${two.port}` },
      listen: ["0.0.0.0:443"],
    });
    assert.equal(extra.status, 400, extra.text);
    assert.ok(
      (apiError(extra).issues ?? []).some((i) => i.path === "listen"),
      extra.text,
    );

    const notJson = await adminFetch(router, "PUT", "/v1/routes", "routes: []");
    assert.equal(notJson.status, 400);
    assert.equal(apiError(notJson).code, "bad-json");

    const afterRes = await adminFetch(router, "GET", "/v1/routes");
    assert.deepEqual(afterRes.json, before.json, "the route table changed after rejected PUTs");
    const c = await liveConn(router.port);
    assert.equal(c.who, "one", "traffic no longer goes to the running default");
    c.socket.destroy();
    const m = await adminFetch(router, "GET", "/metrics");
    assert.equal(metricValue(m.text, 'alpnmux_config_reloads_total{result="error"}'), reloads + 3);
  });
});

describe("route swap", () => {
  let hashA: HashBackend;
  let hashB: HashBackend;

  before(async () => {
    hashA = await startHashBackend(ws);
    hashB = await startHashBackend(ws);
  });

  test("a live spliced connection survives PUT /v1/routes; new connections use the new default", async () => {
    const initial = (await adminFetch(router, "GET", "/v1/routes")).json as { routes: unknown };
    const live = await liveConn(router.port);
    assert.equal(live.who, "one");
    assert.equal(await live.echo("before-swap"), "before-swap");

    const swap = await adminFetch(router, "PUT", "/v1/routes", {
      routes: initial.routes,
      default: { upstream: `127.0.0.1:${two.port}` },
    });
    assert.equal(swap.status, 200, swap.text);
    const now = (await adminFetch(router, "GET", "/v1/routes")).json as { default: unknown; routes: unknown };
    assert.deepEqual(now.default, { upstream: `127.0.0.1:${two.port}` });
    assert.deepEqual(now.routes, initial.routes);

    // New connections: the new default.
    const fresh = await liveConn(router.port);
    assert.equal(fresh.who, "two");
    assert.equal(await fresh.echo("fresh"), "fresh");
    fresh.socket.destroy();
    // The old connection: still spliced to the old upstream, both directions.
    for (let i = 0; i < 5; i++) {
      assert.equal(await live.echo(`after-swap-${i}`), `after-swap-${i}`);
      await sleep(50);
    }
    assert.equal(live.socket.destroyed, false);
    const liveClient = `127.0.0.1:${live.socket.localPort}`;
    live.socket.end();
    const line = await waitConn(router, (c) => c.client === liveClient);
    assert.equal(line.route, "default");
    assert.equal(line.upstream, `127.0.0.1:${one.port}`);
    assert.equal(line.outcome, "spliced");

    // Raw bytes too: a hello plus data, half-closed, hashed by the backend across another swap.
    const toA = await adminFetch(router, "PUT", "/v1/routes", {
      routes: initial.routes,
      default: { upstream: `127.0.0.1:${hashA.port}` },
    });
    assert.equal(toA.status, 200, toA.text);
    const hello = await captureNodeHello({ servername: "raw.example.test", alpn: ["h2"] });
    const socket = net.connect({ host: "127.0.0.1", port: router.port, allowHalfOpen: true });
    let got = "";
    const reply = new Promise<string>((resolve, reject) => {
      socket.on("data", (c: Buffer) => {
        got += c.toString();
      });
      socket.on("end", () => resolve(got));
      socket.on("close", () => resolve(got));
      socket.on("error", reject);
    });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(hello);
    socket.write(Buffer.alloc(10_000, 1));
    await sleep(150);
    const toB = await adminFetch(router, "PUT", "/v1/routes", {
      routes: initial.routes,
      default: { upstream: `127.0.0.1:${hashB.port}` },
    });
    assert.equal(toB.status, 200);
    socket.write(Buffer.alloc(10_000, 2));
    socket.end();
    const answer = await reply;
    const expected = createHash("sha256")
      .update(Buffer.concat([hello, Buffer.alloc(10_000, 1), Buffer.alloc(10_000, 2)]))
      .digest("hex");
    assert.equal(answer.trim(), `${expected} ${hello.length + 20_000}`);
    assert.equal(hashA.results.length, 1);
    assert.equal(hashB.results.length, 0);

    // Restore the original table for the other tests.
    const back = await adminFetch(router, "PUT", "/v1/routes", {
      routes: initial.routes,
      default: { upstream: `127.0.0.1:${one.port}` },
    });
    assert.equal(back.status, 200, back.text);
  });
});

describe("alpnmux challenge CLI", () => {
  test("set / replace / list / delete over the admin API, with exit codes and output", async () => {
    const set = await challengeCli(ws, router, ["set", "A.Example.Test", "tok-1.thumb_1"]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, "set challenge for a.example.test, no expiry");

    const replaced = await challengeCli(ws, router, [
      "set",
      "a.example.test",
      "tok-2.thumb_2",
      "--ttl",
      "10m",
    ]);
    assert.equal(replaced.code, 0, replaced.stderr);
    const m = /^replaced challenge for a\.example\.test, expires (\S+)$/.exec(replaced.stdout);
    assert.ok(m, replaced.stdout);
    const expires = Date.parse(m[1] as string);
    assert.ok(Math.abs(expires - (Date.now() + 600_000)) < 30_000, `expiry ${m[1]} is not ~10 min away`);

    const ip = await challengeCli(ws, router, ["set", "[::1]", "tok.thumb"]);
    assert.equal(ip.code, 0, ip.stderr);
    assert.equal(ip.stdout, "set challenge for ::1, no expiry");

    // ALPNMUX_ADMIN instead of --admin.
    const list = await challengeCli(ws, router, ["list"], {
      admin: null,
      env: { ALPNMUX_ADMIN: router.adminUrl },
    });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.split("\n").sort(), ["::1\tno expiry", `a.example.test\t${m[1]}`]);

    // The stored challenge is what the responder serves.
    const served = await opensslClient({
      port: router.port,
      servername: "a.example.test",
      alpn: ["acme-tls/1"],
      holdMs: 300,
    });
    assert.equal(served.alpn, "acme-tls/1", served.stdout + served.stderr);

    const del = await challengeCli(ws, router, ["delete", "a.example.test"]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "deleted challenge for a.example.test");
    const again = await challengeCli(ws, router, ["delete", "a.example.test"]);
    assert.equal(again.code, 0, "deleting twice must stay idempotent for cleanup hooks");
    assert.equal(again.stdout, "no challenge for a.example.test (nothing to delete)");
    const delIp = await challengeCli(ws, router, ["delete", "::1"]);
    assert.equal(delIp.code, 0, delIp.stderr);
    const empty = await challengeCli(ws, router, ["list"]);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, "no challenges");
  });

  test("failures: refused (1), wrong token (1), unreachable (1), usage errors (2)", async () => {
    const badId = await challengeCli(ws, router, ["set", "*.example.test", "tok.thumb"]);
    assert.equal(badId.code, 1);
    assert.match(badId.stderr, /alpnmux challenge set: Invalid identifier "\*\.example\.test": wildcard/);

    const badKey = await challengeCli(ws, router, ["set", "a.example.test", "no-dot"]);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /Invalid challenge value: "no-dot": expected a key authorization/);

    const wrongToken = await challengeCli(ws, router, ["list", "--admin-token", "wrong-token-0123456789"]);
    assert.equal(wrongToken.code, 1);
    assert.match(
      wrongToken.stderr,
      /The bearer token is not valid \(check --admin-token \/ ALPNMUX_ADMIN_TOKEN\)/,
    );

    const dead = await freePort();
    const unreachable = await challengeCli(ws, router, ["list"], { admin: `http://127.0.0.1:${dead}` });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+/);

    const noToken = await challengeCli(ws, router, ["list"], { env: { ALPNMUX_ADMIN_TOKEN: undefined } });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no admin token: set ALPNMUX_ADMIN_TOKEN or pass --admin-token/);

    const missingArg = await challengeCli(ws, router, ["set", "a.example.test"]);
    assert.equal(missingArg.code, 2);
    assert.match(missingArg.stderr, /set takes IDENTIFIER VALUE, got 1 argument/);

    const unknown = await challengeCli(ws, router, ["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);

    const list = await adminFetch(router, "GET", "/v1/challenges");
    assert.deepEqual(list.json, { challenges: [] });
  });
});

describe("admin bind safety", () => {
  test("a non-loopback admin address without a token refuses to start (exit 1, names admin.token)", async () => {
    const [listen, admin] = [await freePort(), await freePort()];
    const r = await runProc(
      ws,
      "nonloopback",
      [
        ...routerCommand(),
        "--listen",
        `127.0.0.1:${listen}`,
        "--acme",
        "builtin",
        "--default",
        `127.0.0.1:${one.port}`,
        "--admin",
        `0.0.0.0:${admin}`,
      ],
      { env: { ALPNMUX_ADMIN_TOKEN: undefined }, timeoutMs: 15_000 },
    );
    assert.equal(r.timedOut, false, "the router started instead of refusing");
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /admin\.token/);
    assert.match(r.stderr, /0\.0\.0\.0 \(not loopback\) needs a token/);
  });

  test("on loopback without a token, a generated token is printed once and works", async () => {
    const [listen, admin] = [await freePort(), await freePort()];
    const r = await spawnRouter(
      ws,
      [
        "--listen",
        `127.0.0.1:${listen}`,
        "--acme",
        "builtin",
        "--default",
        `127.0.0.1:${one.port}`,
        "--admin",
        `127.0.0.1:${admin}`,
        "--log-format",
        "json",
      ],
      { label: "generated", env: { ALPNMUX_ADMIN_TOKEN: "" }, waitPorts: [listen, admin] },
    );
    const line = await r.proc.waitForLine(/admin API token \(generated\): /);
    const token = line.replace(/^.*\(generated\): /, "").trim();
    assert.ok(token.length >= 16, line);
    const api = { adminUrl: `http://127.0.0.1:${admin}`, token };
    assert.equal((await adminFetch(api, "GET", "/v1/challenges")).status, 200);
    assert.equal(
      (await adminFetch(api, "GET", "/v1/challenges", undefined, { token: ADMIN_TOKEN })).status,
      401,
    );
    assert.equal(r.proc.stderrLines.filter((l) => l.includes("generated")).length, 1);
    await r.stop();
  });
});

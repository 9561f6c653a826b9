import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AdminApiError,
  checkKeyAuthorization,
  createAdminApp,
  normalizeChallengeIdentifier,
  routeTableDocument,
  timingSafeEqualStrings,
} from "./admin-api.ts";
import { MemoryChallengeStore } from "./challenge-store.ts";
import type { ClientHello } from "./clienthello-types.ts";
import { parseConfig } from "./config.ts";
import { createRouter } from "./router.ts";

const TOKEN = "test-token-0123456789abcdef";
const T0 = Date.UTC(2030, 0, 1);
const KA = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";

function hello(serverName: string | null, alpn: string[] | null = null): ClientHello {
  return {
    legacyVersion: 0x0303,
    random: new Uint8Array(32),
    sessionId: new Uint8Array(0),
    cipherSuites: [0x1301],
    compressionMethods: [0],
    extensions: [],
    serverName,
    alpn,
    supportedVersions: [0x0304],
    supportedGroups: null,
    signatureAlgorithms: null,
    keyShares: null,
    pskKeyExchangeModes: null,
    ech: false,
    earlyData: false,
    message: new Uint8Array(0),
  };
}

function setup(extra: { maxBodyBytes?: number } = {}) {
  const config = parseConfig({
    listen: ["127.0.0.1:8443", "[::1]:8443"],
    helloTimeout: "3s",
    routes: [
      {
        name: "web",
        match: { sni: ["www.example.com"] },
        target: { upstream: "127.0.0.1:9001", proxy: "v2" },
      },
      { name: "acme", match: { acme: "exact" }, target: { upstream: "[::1]:10443" } },
    ],
    default: "reject",
  });
  const router = createRouter({ config });
  const challenges = new MemoryChallengeStore({ now: () => T0 });
  const app = createAdminApp({
    router,
    challenges,
    token: TOKEN,
    version: "0.1.0-test",
    now: () => T0,
    ...extra,
  });
  const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body !== undefined && typeof body !== "string" ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
  return { router, challenges, app, req, config };
}

type ErrorBody = {
  error: { code: string; message: string; path?: string; issues?: { path: string; message: string }[] };
};

describe("auth", () => {
  test("GET /healthz needs no token and reports counters and version", async () => {
    const { app } = setup();
    const res = await app.request("/healthz");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok", active: 0, inHello: 0, version: "0.1.0-test" });
  });

  test("a missing Authorization header gives 401 with WWW-Authenticate: Bearer", async () => {
    const { app } = setup();
    const res = await app.request("/v1/challenges");
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer\b/);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, "unauthorized");
    assert.match(body.error.message, /Bearer/);
  });

  test("a wrong token (same length, other length) or a malformed header (other scheme, extra words) gives 401", async () => {
    const { app } = setup();
    const invalid = 'Bearer realm="alpnmux", error="invalid_token"';
    const required = 'Bearer realm="alpnmux"';
    const cases: [string, string, RegExp][] = [
      [`Bearer ${TOKEN.slice(0, -1)}X`, invalid, /^The bearer token is not valid$/],
      ["Bearer short", invalid, /not valid/],
      [`Basic ${TOKEN}`, required, /^Authorization: Bearer <token> is required$/],
      [`Bearer ${TOKEN} extra`, required, /is required/],
      ["Bearer", required, /is required/],
      [`Bearer ${TOKEN}!`, required, /is required/],
    ];
    for (const [authorization, challenge, message] of cases) {
      const res = await app.request("/v1/routes", { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.headers.get("www-authenticate"), challenge, authorization);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, "unauthorized");
      assert.match(body.error.message, message, authorization);
    }
  });

  test("the right token is accepted, scheme case-insensitively", async () => {
    const { app } = setup();
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const res = await app.request("/v1/challenges", { headers: { authorization } });
      assert.equal(res.status, 200, authorization);
    }
  });

  test("/metrics and unknown paths need the token too", async () => {
    const { app } = setup();
    assert.equal((await app.request("/metrics")).status, 401);
    assert.equal((await app.request("/nope")).status, 401);
  });

  test("createAdminApp() rejects a token no bearer header could carry, or a short one", () => {
    const router = createRouter({ config: parseConfig({ default: "reject" }) });
    for (const [token, why] of [
      ["", /at least 16 characters/],
      ["fifteen-chars-x", /at least 16 characters/],
      ["a token with spaces", /only A-Z/],
      ["sixteen-chars-ok!", /only A-Z/],
    ] as const) {
      assert.throws(
        () => createAdminApp({ router, challenges: new MemoryChallengeStore(), token }),
        (e) =>
          e instanceof AdminApiError &&
          e.code === "invalid-options" &&
          /^Cannot create admin API: the token /.test(e.message) &&
          why.test(e.message),
        token,
      );
    }
    assert.ok(createAdminApp({ router, challenges: new MemoryChallengeStore(), token: "0123456789abcdef" }));
  });

  test("timingSafeEqualStrings() compares whole strings", async () => {
    assert.equal(await timingSafeEqualStrings("abc", "abc"), true);
    assert.equal(await timingSafeEqualStrings("abc", "abd"), false);
    assert.equal(await timingSafeEqualStrings("abc", "abcd"), false);
    assert.equal(await timingSafeEqualStrings("", ""), true);
    assert.equal(await timingSafeEqualStrings("é", "e\u0301"), false);
  });
});

describe("challenges", () => {
  test("PUT stores (201), replaces (200), GET lists without key authorizations, DELETE removes", async () => {
    const { req, challenges } = setup();
    let res = await req("PUT", "/v1/challenges/WWW.Example.com", { keyAuthorization: KA, ttlSeconds: 600 });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), {
      identifier: "www.example.com",
      expiresAt: new Date(T0 + 600_000).toISOString(),
    });
    assert.equal((await challenges.get("www.example.com"))?.keyAuthorization, KA);

    res = await req("PUT", "/v1/challenges/www.example.com", { keyAuthorization: "a.b" });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { identifier: "www.example.com", expiresAt: null });

    res = await req("GET", "/v1/challenges");
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { challenges: [{ identifier: "www.example.com", expiresAt: null }] });
    assert.doesNotMatch(text, /keyAuthorization|a\.b/);

    res = await req("DELETE", "/v1/challenges/www.example.com");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { deleted: true });
    res = await req("DELETE", "/v1/challenges/www.example.com");
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as ErrorBody).error.code, "challenge-not-found");
    assert.deepEqual(await challenges.list(), []);
  });

  test("a text/plain body is the key authorization", async () => {
    const { req, challenges } = setup();
    const res = await req("PUT", "/v1/challenges/a.example.test?ttlSeconds=60", `${KA}\n`, {
      "content-type": "text/plain",
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), {
      identifier: "a.example.test",
      expiresAt: new Date(T0 + 60_000).toISOString(),
    });
    assert.equal((await challenges.get("a.example.test"))?.keyAuthorization, KA);
  });

  test("value takes the key authorization, uacme's base64url digest or dehydrated's hex digest", async () => {
    const { req, challenges } = setup();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(KA)));
    const b64 = Buffer.from(digest).toString("base64url");
    const hex = Buffer.from(digest)
      .toString("hex")
      .replace(/(..)(?!$)/g, "$1:");
    const cases: [string, string, string][] = [
      ["ka.example.test", KA, KA],
      ["uacme.example.test", b64, b64],
      ["dehydrated.example.test", hex, b64],
      ["upper.example.test", hex.toUpperCase(), b64],
    ];
    for (const [id, value, stored] of cases) {
      const res = await req("PUT", `/v1/challenges/${id}`, { value, ttlSeconds: 60 });
      assert.equal(res.status, 201, await res.clone().text());
      assert.deepEqual(await res.json(), { identifier: id, expiresAt: new Date(T0 + 60_000).toISOString() });
      assert.equal((await challenges.get(id))?.keyAuthorization, stored, id);
    }
    const plain = await req("PUT", "/v1/challenges/plain.example.test", `${hex}\n`, {
      "content-type": "text/plain",
    });
    assert.equal(plain.status, 201);
    assert.equal((await challenges.get("plain.example.test"))?.keyAuthorization, b64);
    // GET lists them as before: identifiers and expiry only.
    const list = (await (await req("GET", "/v1/challenges")).json()) as { challenges: unknown[] };
    assert.equal(list.challenges.length, 5);
    assert.doesNotMatch(JSON.stringify(list), new RegExp(b64.slice(0, 20)));
  });

  test("a value in none of the forms is 400 invalid-challenge-value; both fields are 400 bad-request", async () => {
    const { req, challenges } = setup();
    for (const value of [
      "no-dot",
      "",
      42,
      null,
      "ab:cd",
      "A".repeat(44),
      "x".repeat(43).replace(/x$/, "B"),
    ]) {
      const res = await req("PUT", "/v1/challenges/a.example.test", { value });
      assert.equal(res.status, 400, String(value));
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, "invalid-challenge-value", String(value));
      assert.equal(body.error.path, "value");
      assert.match(body.error.message, /^Invalid challenge value: /);
    }
    const plain = await req("PUT", "/v1/challenges/a.example.test", "not a value", {
      "content-type": "text/plain",
    });
    assert.equal(((await plain.json()) as ErrorBody).error.code, "invalid-challenge-value");
    const both = await req("PUT", "/v1/challenges/a.example.test", { value: KA, keyAuthorization: KA });
    assert.equal(both.status, 400);
    assert.deepEqual(((await both.json()) as ErrorBody).error, {
      code: "bad-request",
      message: "Give value or keyAuthorization, not both",
      path: "value",
    });
    // keyAuthorization keeps its old meaning: a digest there is refused.
    const digestAsKa = await req("PUT", "/v1/challenges/a.example.test", {
      keyAuthorization: "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y",
    });
    assert.equal(((await digestAsKa.json()) as ErrorBody).error.code, "invalid-key-authorization");
    assert.deepEqual(await challenges.list(), []);
  });

  test("IP identifiers are stored in canonical form (RFC 8738)", async () => {
    const { req, challenges } = setup();
    for (const [given, want] of [
      ["2001:DB8:0::1", "2001:db8::1"],
      ["[::1]", "::1"],
      ["192.0.2.7", "192.0.2.7"],
    ]) {
      const res = await req("PUT", `/v1/challenges/${encodeURIComponent(given as string)}`, {
        keyAuthorization: KA,
      });
      assert.equal(res.status, 201, given);
      assert.equal(((await res.json()) as { identifier: string }).identifier, want);
      assert.ok(await challenges.get(want as string));
    }
  });

  test("bad identifiers give 400 invalid-identifier with a reason", async () => {
    const { req } = setup();
    const cases: [string, RegExp][] = [
      ["*.example.com", /wildcard/],
      ["a..example.com", /not an IP address or a host name/],
      ["-a.example.com", /host name/],
      ["a b.example.com", /host name/],
      ["under_score.example.com", /host name/],
      [`${`${"a".repeat(63)}.`.repeat(4)}com`, /259 characters, more than 253/],
      ["...", /host name/],
      ["256.1.2.3.4:", /host name/],
    ];
    for (const [id, why] of cases) {
      const res = await req("PUT", `/v1/challenges/${encodeURIComponent(id)}`, { keyAuthorization: KA });
      assert.equal(res.status, 400, id);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, "invalid-identifier", id);
      assert.equal(body.error.path, "identifier");
      assert.match(body.error.message, why, id);
    }
    const del = await req("DELETE", "/v1/challenges/*.example.com");
    assert.equal(del.status, 400);
  });

  test("bad key authorizations give 400 invalid-key-authorization", async () => {
    const { req } = setup();
    for (const keyAuthorization of [
      "",
      "no-dot",
      "a.b.c",
      "a b.c",
      "tok.thumb=",
      ".thumb",
      "tok.",
      42,
      null,
      "x".repeat(1025),
    ]) {
      const res = await req("PUT", "/v1/challenges/a.example.test", { keyAuthorization });
      assert.equal(res.status, 400, String(keyAuthorization));
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, "invalid-key-authorization");
      assert.equal(body.error.path, "keyAuthorization");
      assert.match(body.error.message, /^Invalid keyAuthorization: /);
    }
    const res = await req("PUT", "/v1/challenges/a.example.test", {});
    assert.equal(((await res.json()) as ErrorBody).error.code, "invalid-key-authorization");
  });

  test("bad ttlSeconds gives 400 invalid-ttl", async () => {
    const { req } = setup();
    for (const ttlSeconds of [0, -5, "600", 8 * 24 * 3600, null]) {
      const res = await req("PUT", "/v1/challenges/a.example.test", { keyAuthorization: KA, ttlSeconds });
      assert.equal(res.status, 400, String(ttlSeconds));
      assert.equal(((await res.json()) as ErrorBody).error.code, "invalid-ttl");
    }
  });

  test("a body that is not JSON, or not an object, gives 400", async () => {
    const { req } = setup();
    let res = await req("PUT", "/v1/challenges/a.example.test", "{nope", {
      "content-type": "application/json",
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, "bad-json");
    assert.match(body.error.message, /^Cannot parse request body as JSON/);
    res = await req("PUT", "/v1/challenges/a.example.test", [KA]);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as ErrorBody).error.code, "bad-request");
  });

  test("a body over maxBodyBytes gives 413", async () => {
    const { req } = setup({ maxBodyBytes: 64 });
    const res = await req("PUT", "/v1/challenges/a.example.test", { keyAuthorization: KA });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as ErrorBody).error.code, "payload-too-large");
  });

  test("the body limit wraps PUT only: a DELETE's body is never read, so its size does not matter", async () => {
    const { app, challenges } = setup({ maxBodyBytes: 64 });
    await challenges.set("a.example.test", KA);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(200));
        c.close();
      },
    });
    const res = await app.request("/v1/challenges/a.example.test", {
      method: "DELETE",
      headers: { authorization: `Bearer ${TOKEN}` },
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { deleted: true });
  });

  test("normalizeChallengeIdentifier() and checkKeyAuthorization() work standalone", () => {
    assert.equal(normalizeChallengeIdentifier("Example.COM."), "example.com");
    assert.throws(
      () => normalizeChallengeIdentifier(""),
      (e) => e instanceof AdminApiError && e.status === 400,
    );
    assert.equal(checkKeyAuthorization("a-_.b_-"), "a-_.b_-");
  });

  test("normalizeChallengeIdentifier() stores an RFC 8738 reverse-DNS name under its IP", () => {
    assert.equal(normalizeChallengeIdentifier("1.0.0.127.in-addr.arpa"), "127.0.0.1");
    assert.equal(normalizeChallengeIdentifier("[::1]"), "::1");
  });

  test("normalizeChallengeIdentifier() refuses names whose last label is all digits", () => {
    for (const id of ["127.000.0.1", "1.2.3.4.5", "host.123"]) {
      assert.throws(
        () => normalizeChallengeIdentifier(id),
        (e) => e instanceof AdminApiError && e.code === "invalid-identifier",
        id,
      );
    }
  });

  test("a tiny ttlSeconds expires instead of living forever", async () => {
    const { req } = setup();
    const res = await req("PUT", "/v1/challenges/tiny.example", {
      keyAuthorization: "a.b",
      ttlSeconds: 0.0001,
    });
    assert.ok(res.status === 201 || res.status === 200);
    assert.notEqual((await res.json()).expiresAt, null);
  });
});

describe("routes", () => {
  test("GET /v1/routes serialises the startup config back to input form", async () => {
    const { req, config } = setup();
    const res = await req("GET", "/v1/routes");
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.deepEqual(doc, {
      routes: [
        {
          name: "web",
          match: { sni: ["www.example.com"] },
          target: { upstream: "127.0.0.1:9001", proxy: "v2", tlvs: [] },
        },
        {
          name: "acme",
          match: { acme: "exact" },
          target: { upstream: "[::1]:10443", proxy: "none", tlvs: [] },
        },
      ],
      default: "reject",
      onNotTls: "close",
      onNoSni: "route",
    });
    const again = parseConfig({ ...(doc as object) });
    assert.deepEqual(again.routes, config.routes, "the document parses back to the same routes");
    assert.deepEqual(routeTableDocument(again), doc);
  });

  test("PUT /v1/routes swaps the table, keeps other fields, and GET returns what was accepted", async () => {
    const { req, router, config } = setup();
    assert.equal(router.table.decide(hello("api.example.com")).action, "reject");
    const table = {
      routes: [
        {
          name: "api",
          match: { sni: ["api.example.com"], alpn: ["h2"] },
          target: { upstream: "10.0.0.9:443" },
        },
      ],
      default: { upstream: "127.0.0.1:8443", proxy: "v1" },
      onNoSni: "close",
    };
    const res = await req("PUT", "/v1/routes", table);
    assert.equal(res.status, 200);
    const expected = { ...table, onNotTls: "close" };
    assert.deepEqual(await res.json(), expected);

    const d = router.table.decide(hello("api.example.com", ["h2", "http/1.1"]));
    assert.equal(d.action, "forward");
    assert.equal(d.route, "api");
    assert.deepEqual(d.action === "forward" ? d.upstream : null, { host: "10.0.0.9", port: 443 });
    const other = router.table.decide(hello("www.example.com", ["h2"]));
    assert.equal(other.route, "default");
    assert.equal(other.action === "forward" ? other.proxy : null, "v1");
    assert.equal(router.table.decide(hello(null)).route, "no-sni", "onNoSni: close (the default is route)");

    assert.deepEqual(router.config.listen, config.listen);
    assert.equal(router.config.helloTimeout, 3000);
    assert.deepEqual(await (await req("GET", "/v1/routes")).json(), expected);
    assert.match(router.metrics.registry.render(), /alpnmux_config_reloads_total\{result="ok"\} 1/);
  });

  test("PUT /v1/routes with a bad upstream gives 400 with issue paths and keeps the old table", async () => {
    const { req, router, config } = setup();
    const before = router.table;
    const res = await req("PUT", "/v1/routes", {
      routes: [{ match: { sni: ["api.example.com"] }, target: { upstream: "10.0.0.5" } }],
      default: "reject",
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, "invalid-config");
    assert.equal(body.error.issues?.[0]?.path, "routes[0].target.upstream");
    assert.match(body.error.issues?.[0]?.message ?? "", /no port/);
    assert.equal(router.table, before);
    assert.equal(router.config, config);
    assert.match(router.metrics.registry.render(), /alpnmux_config_reloads_total\{result="error"\} 1/);
    assert.equal(router.table.decide(hello("www.example.com")).route, "web");
  });

  test("PUT /v1/routes reports bad host patterns, unknown keys, missing default and bad JSON", async () => {
    const { req, router } = setup();
    const before = router.table;
    const cases: [unknown, string][] = [
      [
        { routes: [{ match: { sni: ["a.*.com"] }, target: "reject" }], default: "reject" },
        "routes[0].match.sni[0]",
      ],
      [{ routes: [], default: "reject", listen: [":443"] }, "listen"],
      [{ routes: [] }, "default"],
      [
        {
          routes: [{ match: { sni: ["x.test"] }, target: { upstream: "h:1", proxy: "v3" } }],
          default: "reject",
        },
        "routes[0].target.proxy",
      ],
      [[1, 2], ""],
    ];
    for (const [doc, path] of cases) {
      const res = await req("PUT", "/v1/routes", doc);
      assert.equal(res.status, 400, JSON.stringify(doc));
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, "invalid-config");
      assert.equal(body.error.issues?.[0]?.path, path, JSON.stringify(doc));
    }
    const bad = await req("PUT", "/v1/routes", "{", { "content-type": "application/json" });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as ErrorBody).error.code, "bad-json");
    assert.equal(router.table, before);
  });

  test("GET /v1/routes follows a config swapped in by someone else (e.g. a file reload)", async () => {
    const { req, router } = setup();
    await req("PUT", "/v1/routes", { routes: [], default: "reject" });
    router.setConfig(parseConfig({ default: { upstream: "backend.internal:443" } }));
    const doc = (await (await req("GET", "/v1/routes")).json()) as { default: unknown; routes: unknown[] };
    assert.deepEqual(doc.default, { upstream: "backend.internal:443", proxy: "none", tlvs: [] });
    assert.deepEqual(doc.routes, []);
  });
});

describe("metrics and errors", () => {
  test("GET /metrics renders Prometheus text", async () => {
    const { req } = setup();
    const res = await req("GET", "/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /alpnmux_connections_total/);
  });

  test("unknown paths give 404 JSON", async () => {
    const { req } = setup();
    const res = await req("GET", "/v2/nothing");
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as ErrorBody).error.code, "not-found");
  });

  test("a failing store gives 500 JSON, not a crash", async () => {
    const router = createRouter({ config: parseConfig({ default: "reject" }) });
    const broken = new MemoryChallengeStore();
    broken.list = () => Promise.reject(new Error("disk on fire"));
    const app = createAdminApp({ router, challenges: broken, token: TOKEN });
    const res = await app.request("/v1/challenges", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 500);
    const body = (await res.json()) as ErrorBody;
    assert.deepEqual(body.error, { code: "internal", message: "Internal error" });
  });
});

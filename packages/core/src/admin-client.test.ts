import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAdminApp } from "./admin-api.ts";
import {
  AdminClientError,
  CHALLENGE_USAGE,
  createAdminClient,
  type FetchLike,
  runChallengeCommand,
} from "./admin-client.ts";
import { MemoryChallengeStore } from "./challenge-store.ts";
import { parseConfig } from "./config.ts";
import { createRouter } from "./router.ts";

const TOKEN = "client-token-0123456789abcdef";
const T0 = Date.UTC(2030, 0, 1);
const KA = "tok_en-1.thumb-print_2";

function setup() {
  const router = createRouter({ config: parseConfig({ default: "reject" }) });
  const challenges = new MemoryChallengeStore({ now: () => T0 });
  const app = createAdminApp({ router, challenges, token: TOKEN, version: "9.9.9" });
  const urls: string[] = [];
  const fetch: FetchLike = (req) => {
    urls.push(`${req.method} ${req.url}`);
    return app.fetch(req);
  };
  const client = createAdminClient({ baseUrl: "http://admin.test:9180/", token: TOKEN, fetch });
  return { router, challenges, app, fetch, client, urls };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

const isClientError = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof AdminClientError && e.code === code && (message === undefined || message.test(e.message));

describe("createAdminClient()", () => {
  test("setChallenge, listChallenges and deleteChallenge round-trip", async () => {
    const { client, challenges, urls } = setup();
    const r = await client.setChallenge("WWW.example.com", KA, 600);
    assert.deepEqual(r, {
      identifier: "www.example.com",
      expiresAt: new Date(T0 + 600_000).toISOString(),
      created: true,
    });
    assert.equal((await challenges.get("www.example.com"))?.keyAuthorization, KA);
    assert.equal((await client.setChallenge("www.example.com", KA)).created, false);
    assert.deepEqual(await client.listChallenges(), [{ identifier: "www.example.com", expiresAt: null }]);
    assert.equal(await client.deleteChallenge("www.example.com"), true);
    assert.equal(await client.deleteChallenge("www.example.com"), false);
    assert.deepEqual(await client.listChallenges(), []);
    assert.equal(
      urls[0],
      "PUT http://admin.test:9180/v1/challenges/WWW.example.com",
      "trailing slash of baseUrl dropped",
    );
  });

  test("a key authorization goes as keyAuthorization (every server reads it), digests as value", async () => {
    const { app, challenges } = setup();
    const bodies: unknown[] = [];
    const client = createAdminClient({
      baseUrl: "http://admin.test:9180",
      token: TOKEN,
      fetch: async (req) => {
        bodies.push(await req.clone().json());
        return app.fetch(req);
      },
    });
    const b64 = "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y"; // SHA-256("tok.thumb")
    const hex =
      "B1:80:30:56:BA:83:B5:53:AE:25:9B:C0:1E:EA:D2:01:83:E8:12:DE:5F:15:5F:C2:E1:B7:52:38:E5:BE:A3:96";
    await client.setChallenge("ka.example.test", "tok.thumb", 60);
    await client.setChallenge("uacme.example.test", b64);
    await client.setChallenge("dehydrated.example.test", hex);
    assert.deepEqual(bodies, [
      { keyAuthorization: "tok.thumb", ttlSeconds: 60 },
      { value: b64 },
      { value: hex },
    ]);
    assert.equal((await challenges.get("uacme.example.test"))?.keyAuthorization, b64);
    assert.equal((await challenges.get("dehydrated.example.test"))?.keyAuthorization, b64);
  });

  test("IPv6 identifiers are sent URL-encoded", async () => {
    const { client, urls } = setup();
    assert.equal((await client.setChallenge("2001:db8::1", KA)).identifier, "2001:db8::1");
    assert.equal(urls[0], "PUT http://admin.test:9180/v1/challenges/2001%3Adb8%3A%3A1");
  });

  test("health() needs no token", async () => {
    const { fetch } = setup();
    const client = createAdminClient({ baseUrl: "http://admin.test:9180", token: "wrong", fetch });
    assert.deepEqual(await client.health(), { status: "ok", active: 0, inHello: 0, version: "9.9.9" });
  });

  test("a wrong token gives unauthorized with the server's message", async () => {
    const { fetch } = setup();
    const client = createAdminClient({ baseUrl: "http://admin.test:9180", token: "wrong", fetch });
    await assert.rejects(client.listChallenges(), (e) => {
      assert.ok(e instanceof AdminClientError);
      assert.equal(e.code, "unauthorized");
      assert.equal(e.status, 401);
      assert.equal(e.message, "The bearer token is not valid");
      return true;
    });
  });

  test("bad input gives bad-request with the server's message and code", async () => {
    const { client } = setup();
    await assert.rejects(client.setChallenge("*.example.com", KA), (e) => {
      assert.ok(e instanceof AdminClientError);
      assert.equal(e.code, "bad-request");
      assert.equal(e.serverCode, "invalid-identifier");
      assert.match(e.message, /wildcard/);
      return true;
    });
    await assert.rejects(
      client.setChallenge("a.example.test", "not a key auth"),
      isClientError("bad-request", /Invalid challenge value: "not a key auth"/),
    );
  });

  test("getRoutes and setRoutes; a rejected table carries the issues", async () => {
    const { client, router } = setup();
    assert.equal((await client.getRoutes()).default, "reject");
    const doc = await client.setRoutes({ routes: [], default: { upstream: "127.0.0.1:8443" } });
    assert.deepEqual(doc.default, { upstream: "127.0.0.1:8443" });
    assert.equal(router.config.default === "reject", false);
    await assert.rejects(client.setRoutes({ default: { upstream: "nope" } }), (e) => {
      assert.ok(e instanceof AdminClientError);
      assert.equal(e.code, "bad-request");
      assert.equal(e.issues[0]?.path, "default.upstream");
      return true;
    });
  });

  test("an unknown path gives not-found", async () => {
    const { fetch } = setup();
    const client = createAdminClient({ baseUrl: "http://admin.test:9180/prefix", token: TOKEN, fetch });
    await assert.rejects(client.listChallenges(), isClientError("not-found", /No such endpoint/));
  });

  test("a fetch failure gives unreachable; a 5xx without JSON gives server-error", async () => {
    const down = createAdminClient({
      baseUrl: "http://127.0.0.1:9",
      token: TOKEN,
      fetch: () => Promise.reject(new TypeError("connection refused")),
    });
    await assert.rejects(
      down.health(),
      isClientError(
        "unreachable",
        /Cannot reach the admin API at http:\/\/127\.0\.0\.1:9: connection refused/,
      ),
    );
    const broken = createAdminClient({
      baseUrl: "http://x.test",
      token: TOKEN,
      fetch: () => new Response("<html>bad gateway</html>", { status: 502 }),
    });
    await assert.rejects(
      broken.listChallenges(),
      (e) => isClientError("server-error", /HTTP 502/)(e) && (e as AdminClientError).status === 502,
    );
    const garbage = createAdminClient({
      baseUrl: "http://x.test",
      token: TOKEN,
      fetch: () => new Response("not json"),
    });
    await assert.rejects(garbage.listChallenges(), isClientError("server-error", /not JSON/));
  });
});

describe("runChallengeCommand()", () => {
  test("set with --ttl, list, delete", async () => {
    const { fetch, challenges, urls } = setup();
    const c = capture();
    const env = { ALPNMUX_ADMIN_TOKEN: TOKEN, ALPNMUX_ADMIN: "http://env.test:1234" };
    assert.equal(
      await runChallengeCommand(["set", "A.example.test", KA, "--ttl", "10m"], env, c.io, fetch),
      0,
    );
    assert.deepEqual(c.out, [
      `set challenge for a.example.test, expires ${new Date(T0 + 600_000).toISOString()}`,
    ]);
    assert.equal((await challenges.get("a.example.test"))?.expiresAt, T0 + 600_000);
    assert.match(urls[0] ?? "", /^PUT http:\/\/env\.test:1234\//);

    assert.equal(await runChallengeCommand(["challenge", "list"], env, c.io, fetch), 0);
    assert.equal(c.out[1], `a.example.test\t${new Date(T0 + 600_000).toISOString()}`);
    assert.equal(await runChallengeCommand(["delete", "a.example.test"], env, c.io, fetch), 0);
    assert.equal(c.out[2], "deleted challenge for a.example.test");
    assert.equal(await runChallengeCommand(["delete", "a.example.test"], env, c.io, fetch), 0);
    assert.equal(c.out[3], "no challenge for a.example.test (nothing to delete)");
    assert.equal(await runChallengeCommand(["list"], env, c.io, fetch), 0);
    assert.equal(c.out[4], "no challenges");
    assert.deepEqual(c.err, []);
  });

  test("flags override env; --admin=URL form; a key authorization may start with '-'", async () => {
    const { fetch, challenges, urls } = setup();
    const c = capture();
    const args = ["set", "--admin=http://flag.test", "b.example.test", "-tok.thumb", "--admin-token", TOKEN];
    assert.equal(
      await runChallengeCommand(
        args,
        { ALPNMUX_ADMIN_TOKEN: "wrong", ALPNMUX_ADMIN: "http://env.test" },
        c.io,
        fetch,
      ),
      0,
    );
    assert.equal((await challenges.get("b.example.test"))?.keyAuthorization, "-tok.thumb");
    assert.match(urls[0] ?? "", /^PUT http:\/\/flag\.test\//);
    assert.match(c.out[0] ?? "", /^set challenge for b\.example\.test, no expiry$/);
  });

  test("after --, every word is an argument, even one that looks like a flag", async () => {
    const { fetch, challenges } = setup();
    const c = capture();
    const args = ["set", "c.example.test", "--", "--tok.thumb"];
    assert.equal(
      await runChallengeCommand(args, { ALPNMUX_ADMIN_TOKEN: TOKEN }, c.io, fetch),
      0,
      c.err.join(),
    );
    assert.equal((await challenges.get("c.example.test"))?.keyAuthorization, "--tok.thumb");
  });

  test("the default admin URL is http://127.0.0.1:9180", async () => {
    const { fetch, urls } = setup();
    assert.equal(await runChallengeCommand(["list"], { ALPNMUX_ADMIN_TOKEN: TOKEN }, capture().io, fetch), 0);
    assert.equal(urls[0], "GET http://127.0.0.1:9180/v1/challenges");
  });

  test("server refusals exit 1 with the server's message", async () => {
    const { fetch } = setup();
    let c = capture();
    assert.equal(
      await runChallengeCommand(["set", "*.example.test", KA], { ALPNMUX_ADMIN_TOKEN: TOKEN }, c.io, fetch),
      1,
    );
    assert.match(c.err[0] ?? "", /^alpnmux challenge set: Invalid identifier "\*\.example\.test": wildcard/);
    c = capture();
    assert.equal(await runChallengeCommand(["list"], { ALPNMUX_ADMIN_TOKEN: "wrong" }, c.io, fetch), 1);
    assert.match(c.err[0] ?? "", /not valid \(check --admin-token \/ ALPNMUX_ADMIN_TOKEN\)$/);
    c = capture();
    const down: FetchLike = () => Promise.reject(new TypeError("connection refused"));
    assert.equal(await runChallengeCommand(["list"], { ALPNMUX_ADMIN_TOKEN: TOKEN }, c.io, down), 1);
    assert.match(c.err[0] ?? "", /Cannot reach the admin API at http:\/\/127\.0\.0\.1:9180/);
    assert.deepEqual(c.out, []);
  });

  test("usage errors exit 2 and print the usage", async () => {
    const { fetch, urls } = setup();
    const env = { ALPNMUX_ADMIN_TOKEN: TOKEN };
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[], env, /missing command/],
      [["frobnicate"], env, /unknown command "frobnicate"/],
      [["set", "a.example.test"], env, /set takes IDENTIFIER VALUE, got 1 argument$/],
      [["delete"], env, /delete takes IDENTIFIER, got 0 arguments/],
      [["list", "extra"], env, /list takes no arguments/],
      [
        ["set", "a.example.test", KA, "--ttl", "soon"],
        env,
        /^alpnmux challenge: --ttl: "soon" is not a duration/,
      ],
      [["set", "a.example.test", KA, "--ttl", "500ms"], env, /1s or more/],
      [["delete", "a.example.test", "--ttl", "1m"], env, /--ttl: only applies to set/],
      [["list", "--bogus"], env, /unknown flag "--bogus"$/],
      [["list", "--tll", "1m"], env, /unknown flag "--tll" \(did you mean --ttl\?\)/],
      [["list", "--admin"], env, /--admin needs a value/],
      [["list", "--admin="], env, /--admin needs a value/],
      [["list", "--help=yes"], env, /--help takes no value/],
      [["list"], {}, /no admin token/],
      [["list", "--admin", "ftp://x"], env, /--admin: "ftp:\/\/x" is not an http\(s\) URL/],
      [["list"], { ...env, ALPNMUX_ADMIN: "127.0.0.1:9180" }, /ALPNMUX_ADMIN: "127\.0\.0\.1:9180" is not/],
    ];
    for (const [args, e, why] of cases) {
      const c = capture();
      assert.equal(await runChallengeCommand(args, e, c.io, fetch), 2, args.join(" "));
      assert.match(c.err[0] ?? "", why, args.join(" "));
      assert.equal(c.err[1], CHALLENGE_USAGE);
    }
    assert.deepEqual(urls, [], "no request on usage errors");
  });

  test("--help prints the usage and exits 0", async () => {
    const c = capture();
    assert.equal(await runChallengeCommand(["--help"], {}, c.io), 0);
    assert.deepEqual(c.out, [CHALLENGE_USAGE]);
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAdminApp } from "../admin-api.ts";
import type { CertificateSource, CertificateStatus } from "../certs/status.ts";
import { MemoryChallengeStore } from "../challenge-store.ts";
import { parseConfig } from "../config.ts";
import { createRouter } from "../router.ts";
import { createSessionValue, SESSION_COOKIE } from "./session.ts";

const TOKEN = "test-token-0123456789abcdef";
const T0 = Date.UTC(2030, 0, 1);
const KA = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
const FORM = { "content-type": "application/x-www-form-urlencoded" };

const CERT: CertificateStatus = {
  name: "www",
  identifiers: ["www.example.test", "<img src=x onerror=alert(1)>.example.test"],
  state: "valid",
  certificate: {
    notBefore: new Date(T0 - 86_400_000).toISOString(),
    notAfter: new Date(T0 + 30 * 86_400_000).toISOString(),
    serial: "0a1b2c",
    issuer: "CN=Pebble Intermediate CA",
    identifiers: ["www.example.test"],
  },
  nextRenewal: { at: new Date(T0 + 20 * 86_400_000).toISOString(), reason: "lifetime" },
  lastResult: {
    at: new Date(T0 - 3_600_000).toISOString(),
    outcome: "failed",
    message: "authorization for bad.example.test failed",
    problems: [
      {
        type: "urn:ietf:params:acme:error:unauthorized",
        detail: '<script>alert("x")</script> wrong key authorization',
        identifier: { type: "dns", value: "bad.example.test" },
      },
    ],
  },
};

function setup(opts: { certificates?: CertificateSource; now?: () => number } = {}) {
  const router = createRouter({
    config: parseConfig({
      routes: [{ name: "acme", match: { acme: true }, target: { acme: "builtin" } }],
      default: { upstream: "127.0.0.1:8443", proxy: "v2" },
    }),
  });
  const challenges = new MemoryChallengeStore({ now: () => T0 });
  const now = opts.now ?? (() => T0);
  const app = createAdminApp({
    router,
    challenges,
    token: TOKEN,
    now,
    version: "9.9.9",
    ...(opts.certificates ? { certificates: opts.certificates } : {}),
  });
  return { app, router, challenges };
}

/** The `name=value` of the session cookie a response sets, and the whole Set-Cookie header. */
function sessionCookie(res: Response): { pair: string; header: string } {
  const header = res.headers.get("set-cookie") ?? "";
  const pair = header.split(";")[0] ?? "";
  assert.ok(pair.startsWith(`${SESSION_COOKIE}=`), header);
  return { pair, header };
}

async function login(app: ReturnType<typeof setup>["app"], token = TOKEN): Promise<Response> {
  return app.request("/login", {
    method: "POST",
    headers: FORM,
    body: new URLSearchParams({ token }).toString(),
  });
}

describe("status page auth", () => {
  test("GET / without credentials is the login form and shows no data", async () => {
    const { app, challenges } = setup();
    await challenges.set("secret-host.example.test", KA, 60_000);
    const res = await app.request("/");
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<form method="post" action="\/login">/);
    assert.match(html, /type="password"/);
    assert.doesNotMatch(html, /secret-host|Challenges in flight|127\.0\.0\.1:8443/);
  });

  test("a wrong token is 401 with the form and an error", async () => {
    const { app } = setup();
    const res = await login(app, "wrong-token-0123456789abcdef");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("set-cookie"), null);
    const html = await res.text();
    assert.match(html, /The token is not valid/);
    assert.match(html, /action="\/login"/);
  });

  test("a login without a token field is 401", async () => {
    const { app } = setup();
    const res = await app.request("/login", { method: "POST", headers: FORM, body: "other=1" });
    assert.equal(res.status, 401);
  });

  test("a login body over 4 KiB is refused before it is parsed", async () => {
    const { app } = setup();
    const res = await app.request("/login", {
      method: "POST",
      headers: FORM,
      body: `token=${"a".repeat(5000)}`,
    });
    assert.equal(res.status, 413);
    assert.equal(res.headers.get("set-cookie"), null);
  });

  test("the right token: 303 to / with an HttpOnly, SameSite=Strict session cookie that is not the token", async () => {
    const { app } = setup();
    const res = await login(app);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/");
    const { pair, header } = sessionCookie(res);
    assert.match(header, /HttpOnly/i);
    assert.match(header, /SameSite=Strict/i);
    assert.match(header, /Path=\//);
    assert.match(header, /Max-Age=43200/);
    assert.doesNotMatch(header, /Secure/i, "plain HTTP: a Secure cookie would never come back");
    assert.ok(!header.includes(TOKEN));
    assert.ok(!header.includes(encodeURIComponent(TOKEN)));
    const page = await app.request("/", { headers: { cookie: pair } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Challenges in flight/);
  });

  test("over HTTPS the cookie is Secure as well", async () => {
    const { app } = setup();
    const res = await app.request("https://admin.example.test/login", {
      method: "POST",
      headers: FORM,
      body: `token=${TOKEN}`,
    });
    assert.equal(res.status, 303);
    assert.match(sessionCookie(res).header, /Secure/);
  });

  test("a tampered, foreign or expired cookie is refused and cleared", async () => {
    let clock = T0;
    const { app } = setup({ now: () => clock });
    const { pair } = sessionCookie(await login(app));
    const last = pair.at(-1) === "0" ? "1" : "0";
    const tampered = pair.slice(0, -1) + last;
    const foreign = `${SESSION_COOKIE}=${await createSessionValue("another-token-0123456789", { now: T0 })}`;
    const longer = pair.replace(/v1\.(\d+)\./, (_, e: string) => `v1.${Number(e) + 86_400_000}.`);
    for (const cookie of [tampered, foreign, longer, `${SESSION_COOKIE}=${TOKEN}`]) {
      const res = await app.request("/", { headers: { cookie } });
      const html = await res.text();
      assert.match(html, /action="\/login"/, cookie);
      assert.match(html, /session is not valid/, cookie);
      assert.doesNotMatch(html, /Challenges in flight/, cookie);
      assert.match(res.headers.get("set-cookie") ?? "", /Max-Age=0/);
    }
    clock = T0 + 12 * 3600_000 + 1;
    const expired = await app.request("/", { headers: { cookie: pair } });
    const html = await expired.text();
    assert.match(html, /session has expired/);
    assert.doesNotMatch(html, /Challenges in flight/);
  });

  test("the bearer header works for GET /; a wrong one is 401", async () => {
    const { app } = setup();
    const ok = await app.request("/", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /Challenges in flight/);
    const bad = await app.request("/", { headers: { authorization: "Bearer wrong-token-0123456789abcdef" } });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get("www-authenticate") ?? "", /invalid_token/);
    assert.doesNotMatch(await bad.text(), /Challenges in flight/);
  });

  test("logout clears the cookie and redirects to the form", async () => {
    const { app } = setup();
    const res = await app.request("/logout", { method: "POST", headers: FORM, body: "" });
    assert.equal(res.status, 303);
    assert.match(res.headers.get("set-cookie") ?? "", new RegExp(`${SESSION_COOKIE}=;.*Max-Age=0`));
  });

  test("cross-site login and logout posts are refused (Sec-Fetch-Site, Origin)", async () => {
    const { app } = setup();
    const body = `token=${TOKEN}`;
    for (const headers of [
      { ...FORM, "sec-fetch-site": "cross-site" },
      { ...FORM, "sec-fetch-site": "same-site" },
      { ...FORM, origin: "http://evil.example" },
    ]) {
      for (const path of ["/login", "/logout"]) {
        const res = await app.request(`http://127.0.0.1:9180${path}`, { method: "POST", headers, body });
        assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.equal(res.headers.get("set-cookie"), null);
      }
    }
    const same = await app.request("http://127.0.0.1:9180/login", {
      method: "POST",
      headers: {
        ...FORM,
        origin: "http://127.0.0.1:9180",
        host: "127.0.0.1:9180",
        "sec-fetch-site": "same-origin",
      },
      body,
    });
    assert.equal(same.status, 303);
  });

  test("the cookie does not authorise the API (CSRF): PUT /v1/routes, PUT /v1/challenges, GET /metrics", async () => {
    const { app, router, challenges } = setup();
    const { pair } = sessionCookie(await login(app));
    const before = router.config;
    const routes = await app.request("/v1/routes", {
      method: "PUT",
      headers: { cookie: pair, "content-type": "application/json" },
      body: JSON.stringify({ default: "reject" }),
    });
    assert.equal(routes.status, 401);
    assert.equal(router.config, before);
    const put = await app.request("/v1/challenges/a.example.test", {
      method: "PUT",
      headers: { cookie: pair, "content-type": "text/plain" },
      body: KA,
    });
    assert.equal(put.status, 401);
    assert.equal(await challenges.get("a.example.test"), undefined);
    assert.equal((await app.request("/metrics", { headers: { cookie: pair } })).status, 401);
    assert.equal((await app.request("/healthz")).status, 200);
  });
});

describe("status page headers and content", () => {
  test("CSP and the other headers are on the form and on the page; no script anywhere", async () => {
    const { app } = setup();
    for (const init of [{}, { headers: { authorization: `Bearer ${TOKEN}` } }]) {
      const res = await app.request("/", init);
      const csp = res.headers.get("content-security-policy") ?? "";
      for (const d of [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ]) {
        assert.ok(csp.includes(d), `${d} in ${csp}`);
      }
      assert.doesNotMatch(csp, /script-src|unsafe-inline/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("referrer-policy"), "no-referrer");
      assert.equal(res.headers.get("cache-control"), "no-store");
      const html = await res.text();
      assert.doesNotMatch(html, /<script|<style| style=| on[a-z]+=/i);
      assert.ok(html.startsWith("<!DOCTYPE html>"));
    }
    const css = await app.request("/status.css");
    assert.equal(css.status, 200);
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    assert.match(await css.text(), /prefers-color-scheme: dark/);
  });

  test("the page lists a certificate with its expiry, next renewal and the CA's problem", async () => {
    const { app } = setup({ certificates: { list: () => [CERT], renew: () => Promise.resolve(CERT) } });
    const html = await (await app.request("/", { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assert.match(html, /<b>www<\/b>/);
    assert.match(html, /www\.example\.test/);
    assert.match(html, /2030-01-31 00:00 UTC/);
    assert.match(html, /in 30 days/);
    assert.match(html, /in 20 days/);
    assert.match(html, /lifetime/);
    assert.match(html, /badge failed/);
    assert.match(html, /urn:ietf:params:acme:error:unauthorized/);
    assert.match(html, /bad\.example\.test: /);
    assert.match(html, /CN=Pebble Intermediate CA/);
    assert.doesNotMatch(html, /No certificates configured/);
  });

  test("hostile identifiers and problem details are escaped", async () => {
    const { app } = setup({ certificates: { list: () => [CERT], renew: () => Promise.resolve(CERT) } });
    const html = await (await app.request("/", { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assert.ok(!html.includes("<img src=x"), "identifier not escaped");
    assert.ok(!html.includes("<script>"), "detail not escaped");
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;.example.test"));
    assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; wrong key authorization"));
  });

  test("without a certificate manager: No certificates configured; challenges, routes and connections", async () => {
    const { app, challenges, router } = setup();
    await challenges.set("a.example.test", KA, 600_000);
    router.metrics.connections.labels({ route: "acme", outcome: "challenge" }).inc(2);
    router.metrics.connections.labels({ route: "default", outcome: "spliced" }).inc(5);
    router.metrics.active.set(3);
    const html = await (await app.request("/", { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assert.match(html, /No certificates configured/);
    assert.match(html, /a\.example\.test<\/td><td><time datetime="2030-01-01T00:10:00.000Z">/);
    assert.match(html, /in 10 min/);
    assert.ok(!html.includes(KA), "a key authorization is never shown");
    assert.match(
      html,
      /ACME \(acme-tls\/1\)<\/td><td class="mono">→ built-in ACME responder \(else reject\)/,
    );
    assert.match(html, /→ 127\.0\.0\.1:8443 \(PROXY v2\)/);
    assert.match(html, /id="connections-active">3</);
    assert.match(html, /id="connections-closed">7</);
    assert.match(html, /spliced<\/td><td class="num">5</);
    assert.match(html, /version 9\.9\.9/);
  });

  test("a challenge store that fails is reported on the page, not a 500", async () => {
    const { app, challenges } = setup();
    challenges.list = () => Promise.reject(new Error("Redis is down"));
    const res = await app.request("/", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Cannot read the challenge store: Redis is down/);
  });
});

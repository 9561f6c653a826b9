/**
 * @module status-page.test — the admin listener's status page in a real browser. alpnmux (the
 * CLI under test, `--acme builtin`, an admin token) gets a challenge through the admin API and
 * two connections (one TLS spliced to the default backend, one not TLS and closed); headless
 * Chromium then opens `/`, gets the login form, types the token, submits, and must see the
 * routes, the challenge, "No certificates configured" and the connection counts. A screenshot
 * goes to `tests/.work/status-page/status.png` (path printed). The page's CSP is checked in the
 * browser: our page logs no violation, an inline script put into it is refused, and the
 * HttpOnly session cookie is invisible to `document.cookie`. Logging out shows the form again.
 * With `workers: 2` the page's connection counts are the primary's sum over its workers.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import { adminFetch, type BuiltinRouter, startBuiltinRouter } from "../_harness/admin.ts";
import { startTlsIdentityServer, type TlsIdentityServer } from "../_harness/backends.ts";
import { type CertAuthority, createCA, issueCert } from "../_harness/certs.ts";
import {
  type Browser,
  chromiumUnavailable,
  launchChromium,
  loginAndRead,
  type Page,
} from "../_harness/chromium.ts";
import { connLog, connLogs, rawClient } from "../_harness/e2e-kit.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("status-page", after);
const KA = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ";
const unavailable = chromiumUnavailable();

let ca: CertAuthority;
let web: TlsIdentityServer;
let router: BuiltinRouter;
let browser: Browser;
let page: Page;

/** One TLS connection through the router to the default backend: read `who=`, then close. */
function splicedConnection(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername: "www.example.test", ca: ca.cert });
    s.setEncoding("utf8");
    s.once("data", (d: string) => {
      s.end();
      resolve(d.trim());
    });
    s.once("error", reject);
  });
}

before(async () => {
  ca = createCA(ws.subdir("pki"));
  web = await startTlsIdentityServer(ws, { name: "web", cert: issueCert(ca, ["www.example.test"]) });
});

describe("status page in headless Chromium", () => {
  before(async () => {
    // Missing prerequisites fail loudly (npm test installs them as root); they never skip.
    assert.equal(unavailable, undefined, unavailable);
    router = await startBuiltinRouter(ws, { def: web.port });
    const put = await adminFetch(router, "PUT", "/v1/challenges/pending.example.test", {
      value: KA,
      ttlSeconds: 600,
    });
    assert.equal(put.status, 201, put.text);
    assert.equal(await splicedConnection(router.port), "who=web");
    const raw = await rawClient(router.port);
    raw.socket.write("GET / HTTP/1.0\r\n\r\n");
    await raw.closed;
    await connLog(router, (c) => c.outcome === "spliced");
    await connLog(router, (c) => c.outcome !== "spliced");
    browser = await launchChromium(ws.subdir("chromium-profile"));
    ws.defer(() => browser.close());
  });

  test("without a session, / is the login form and shows nothing else", async () => {
    page = await browser.openPage(`${router.adminUrl}/`);
    const text = await page.text();
    assert.match(text, /Admin token/);
    assert.doesNotMatch(text, /pending\.example\.test|Challenges in flight/);
    assert.equal(await page.evaluate("document.querySelectorAll('input[type=password]').length"), 1);
  });

  test("a wrong token shows the form again with an error", async () => {
    await page.fill("#token", "wrong-token-0123456789abcdef");
    await page.click("form[action='/login'] button[type=submit]", { navigation: true });
    const text = await page.text();
    assert.match(text, /The token is not valid/);
    assert.doesNotMatch(text, /Challenges in flight/);
  });

  test("logging in with the token shows routes, the challenge, certificates and connection counts", async (t) => {
    await page.fill("#token", router.token);
    await page.click("form[action='/login'] button[type=submit]", { navigation: true });
    assert.equal(await page.url(), `${router.adminUrl}/`);
    const text = await page.text();
    assert.match(text, /alpnmux status/);
    assert.match(text, /version \S+ · up \d+ s/);
    assert.match(text, /No certificates configured/);
    assert.match(text, /Challenges in flight \(1\)/);
    assert.match(text, /pending\.example\.test\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+in (9|10) min/);
    assert.ok(!text.includes(KA), "the key authorization is never shown");
    assert.match(text, /ACME \(acme-tls\/1\)\s+→ built-in ACME responder/);
    assert.match(text, new RegExp(`default\\s+anything else\\s+→ 127\\.0\\.0\\.1:${web.port}`));
    const outcomes = new Set(connLogs(router).map((c) => c.outcome));
    for (const o of outcomes) assert.match(text, new RegExp(`\\b${o}\\b`), `outcome ${o} on the page`);
    const closed = Number(
      await page.evaluate<string>("document.getElementById('connections-closed').textContent"),
    );
    assert.equal(closed, connLogs(router).length);
    assert.ok(closed >= 2);
    assert.equal(await page.evaluate("document.getElementById('connections-active').textContent"), "0");
    const shot = path.join(ws.dir, "status.png");
    await page.screenshot(shot);
    const png = fs.readFileSync(shot);
    assert.equal(png.subarray(0, 8).toString("hex"), "89504e470d0a1a0a");
    assert.ok(png.length > 10_000, `screenshot of ${png.length} bytes`);
    console.log(`# status-page screenshot: ${shot}`);
    t.diagnostic(`status-page screenshot: ${shot} (${png.length} bytes), ${closed} connections closed`);
  });

  test("the CSP holds in the browser: no violation by our page, an injected inline script is refused", async () => {
    const violations = (p: Page) => p.messages.filter((m) => /Content[ -]Security[ -]Policy/i.test(m.text));
    assert.deepEqual(violations(page), [], "our own page breaks no CSP rule");
    const sheets = await page.evaluate<number>("document.styleSheets.length");
    assert.equal(sheets, 1, "the stylesheet at /status.css is allowed");
    assert.equal(
      await page.evaluate("getComputedStyle(document.querySelector('header')).display"),
      "flex",
      "the stylesheet applies",
    );
    await page.evaluate(`(() => { const s = document.createElement("script");
      s.textContent = "window.__inlineRan = true"; document.body.append(s); })()`);
    assert.equal(await page.evaluate("window.__inlineRan === true"), false, "inline script ran");
    const deadline = Date.now() + 3000;
    while (violations(page).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(violations(page).length >= 1, JSON.stringify(page.messages));
    assert.equal(await page.evaluate("document.cookie"), "", "the session cookie is HttpOnly");
  });

  test("the session cookie does not authorise the API; logging out shows the form again", async () => {
    // connect-src falls back to default-src 'none': even a script in the page could not call the
    // API with the cookie (the unit tests show the API refuses the cookie anyway).
    const status = await page
      .evaluate<number>(`fetch("/v1/challenges", { credentials: "same-origin" }).then((r) => r.status)`)
      .catch((e: Error) => e.message);
    assert.match(String(status), /Failed to fetch/);
    await page.click("form[action='/logout'] button[type=submit]", { navigation: true });
    const text = await page.text();
    assert.match(text, /Admin token/);
    assert.doesNotMatch(text, /Challenges in flight/);
  });

  test("loginAndRead() (the helper other e2e tests use) returns the page text", async () => {
    const text = await loginAndRead(router.adminUrl, router.token, path.join(ws.dir, "status-helper.png"));
    assert.match(text, /pending\.example\.test/);
    assert.ok(fs.statSync(path.join(ws.dir, "status-helper.png")).size > 10_000);
  });
});

describe("status page with --workers 2", () => {
  test("connection counts are the sum over the workers (the primary serves no TCP itself)", async () => {
    const r = await startBuiltinRouter(ws, {
      def: web.port,
      config: { workers: 2 },
      label: "alpnmux-workers",
    });
    ws.defer(() => r.stop());
    await r.waitForLog((l) => String(l["message"]).startsWith("2 workers share"));
    for (let i = 0; i < 4; i++) assert.equal(await splicedConnection(r.port), "who=web");
    const deadline = Date.now() + 5000;
    while (connLogs(r).filter((c) => c.outcome === "spliced").length < 4 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
    }
    const spliced = connLogs(r).filter((c) => c.outcome === "spliced");
    assert.equal(spliced.length, 4);
    const res = await adminFetch(r, "GET", "/");
    assert.equal(res.status, 200);
    assert.match(res.text, /spliced<\/td><td class="num">4<\/td>/, res.text.slice(-1500));
    assert.match(res.text, /default 4/);
  });
});

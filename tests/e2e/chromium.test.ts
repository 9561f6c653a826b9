/**
 * @module chromium.test — a real browser through alpnmux. Headless Chromium (post-quantum
 * X25519MLKEM768 key share, ECH GREASE, randomised extension order: a 1.7-2.1 KB hello) loads
 * a page with `--dump-dom` from HTTPS backends behind the router: once via the default route
 * and once with a YAML config that sends `www.example.test` to one backend and everything else to
 * another. The DOM must hold the body of the right backend, and the router's connection log must
 * show the big ECH-GREASE hello (`ech: true`, ≥ 1.7 KB) with the route it took. Chromium runs in
 * its own process group, killed at the end (or after 20 s). Skipped without `/usr/bin/chromium`.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  type HttpsBackend,
  startHttpsBackend,
  startTlsIdentityServer,
  type TlsIdentityServer,
} from "../_harness/backends.ts";
import { createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import { type ConnLog, connLog, connLogs, sleep, startRouter } from "../_harness/e2e-kit.ts";
import { runProc, workspace } from "../_harness/proc.ts";
import type { Router } from "../_harness/router.ts";

const CHROMIUM = process.env["CHROMIUM"] ?? "/usr/bin/chromium";
const unavailable = fs.existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found (Debian: apt-get install chromium)`;
const ws = workspace("chromium", after);
let leaf: LeafCert;
let runs = 0;

before(() => {
  const ca = createCA(ws.subdir("pki"));
  leaf = issueCert(ca, ["www.example.test", "other.example.test", "localhost", "127.0.0.1"]);
});

/**
 * `chromium --headless --dump-dom url` with every `*.example.test` name mapped to 127.0.0.1;
 * returns the DOM. Its own process group (runProc) is SIGKILLed when it exits or times out.
 */
async function dumpDom(url: string): Promise<string> {
  const n = ++runs;
  const r = await runProc(
    ws,
    `chromium-${n}`,
    [
      CHROMIUM,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${ws.subdir(`chromium-profile-${n}`)}`,
      "--host-resolver-rules=MAP *.example.test 127.0.0.1",
      "--ignore-certificate-errors",
      "--dump-dom",
      url,
    ],
    { timeoutMs: 20_000 },
  );
  assert.equal(r.timedOut, false, `chromium timed out; log: ${r.proc.logPath}`);
  return r.stdout;
}

/** Waits until the router has logged at least one connection with this SNI, then returns them all. */
async function connsFor(r: Router, sni: string): Promise<ConnLog[]> {
  await connLog(r, (c) => c.sni === sni, 5000);
  await sleep(200); // Chromium may close a second (preconnect) socket a moment later
  return connLogs(r).filter((c) => c.sni === sni);
}

/** Checks what every Chromium hello looks like and returns the largest. */
function assertChromiumHellos(conns: readonly ConnLog[], route: string): number {
  assert.ok(conns.length >= 1);
  for (const c of conns) {
    assert.equal(c.route, route, JSON.stringify(c));
    assert.equal(c.ech, true, `ECH GREASE expected: ${JSON.stringify(c)}`);
    assert.deepEqual(c.alpn, ["h2", "http/1.1"]);
  }
  const spliced = conns.filter((c) => c.outcome === "spliced");
  assert.ok(spliced.length >= 1, JSON.stringify(conns));
  const biggest = Math.max(...spliced.map((c) => c.helloBytes ?? 0));
  assert.ok(biggest >= 1700 && biggest <= 3000, `Chromium hello of ${biggest} bytes (PQ + ECH GREASE)`);
  return biggest;
}

describe("headless Chromium through alpnmux", () => {
  // Missing prerequisites fail loudly (npm test installs them as root); they never skip.
  before(() => assert.equal(unavailable, undefined, unavailable));
  describe("default route (CLI flags only)", () => {
    let web: HttpsBackend;
    let acme: TlsIdentityServer;
    let r: Router & { port: number };

    before(async () => {
      web = await startHttpsBackend(ws, { name: "web-default", cert: leaf });
      acme = await startTlsIdentityServer(ws, { name: "acme", cert: leaf, alpn: ["acme-tls/1"] });
      r = await startRouter(ws, { acme: acme.port, def: web.port, label: "router-default" });
    });

    test("the page from the default backend; the router saw a ≥ 1.7 KB ECH-GREASE hello", async (t) => {
      const dom = await dumpDom(`https://www.example.test:${r.port}/`);
      assert.match(dom, /backend:web-default/, `DOM: ${dom.slice(0, 500)}`);
      assert.ok(web.requests.some((q) => q.url === "/" && q.servername === "www.example.test"));
      const conns = await connsFor(r, "www.example.test");
      const biggest = assertChromiumHellos(conns, "default");
      for (const c of conns) assert.equal(c.upstream, `127.0.0.1:${web.port}`);
      assert.equal(acme.connections.length, 0);
      t.diagnostic(
        `connections ${conns.length}, helloBytes ${JSON.stringify(conns.map((c) => c.helloBytes))}, max ${biggest}`,
      );
    });
  });

  describe("YAML config: sni www.example.test → www, everything else → default", () => {
    let www: HttpsBackend;
    let other: HttpsBackend;
    let r: Router & { port: number };

    before(async () => {
      www = await startHttpsBackend(ws, { name: "www", cert: leaf });
      other = await startHttpsBackend(ws, { name: "other", cert: leaf });
      const acme = await startTlsIdentityServer(ws, { name: "acme-y", cert: leaf, alpn: ["acme-tls/1"] });
      r = await startRouter(ws, {
        label: "router-yaml",
        acme: acme.port,
        config: {
          routes: [
            {
              name: "www",
              match: { sni: ["www.example.test"] },
              target: { upstream: `127.0.0.1:${www.port}` },
            },
          ],
          default: { upstream: `127.0.0.1:${other.port}` },
        },
      });
    });

    test("www.example.test is answered by the www backend", async (t) => {
      const dom = await dumpDom(`https://www.example.test:${r.port}/`);
      assert.match(dom, /backend:www/, `DOM: ${dom.slice(0, 500)}`);
      assert.doesNotMatch(dom, /backend:other/);
      const conns = await connsFor(r, "www.example.test");
      const biggest = assertChromiumHellos(conns, "www");
      assert.equal(other.requests.length, 0);
      t.diagnostic(`connections ${conns.length}, max helloBytes ${biggest}`);
    });

    test("other.example.test falls through to the default backend", async (t) => {
      const wwwBefore = www.requests.length;
      const dom = await dumpDom(`https://other.example.test:${r.port}/`);
      assert.match(dom, /backend:other/, `DOM: ${dom.slice(0, 500)}`);
      const conns = await connsFor(r, "other.example.test");
      const biggest = assertChromiumHellos(conns, "default");
      assert.equal(www.requests.length, wwwBefore);
      assert.ok(other.requests.some((q) => q.servername === "other.example.test"));
      t.diagnostic(`connections ${conns.length}, max helloBytes ${biggest}`);
    });
  });
});

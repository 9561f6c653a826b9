/**
 * @module routing.test — the routing matrix with real clients (openssl s_client, curl, node:tls,
 * node:https) through alpnmux to real TLS servers that say who they are (`who=NAME` or the HTTPS
 * body `backend:NAME`). Covers the default `acme: exact` rule, SNI exact/wildcard routes from a
 * YAML config, the `alpn` matcher, `reject`, and hellos without SNI (routed by default, to the
 * default or a `noSni` route).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type HttpsBackend,
  startHttpsBackend,
  startTlsIdentityServer,
  type TlsIdentityServer,
} from "../_harness/backends.ts";
import { type CertAuthority, createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import { curl, httpsRequest, opensslClient, tlsProbe } from "../_harness/clients.ts";
import { connLog, startRouter } from "../_harness/e2e-kit.ts";
import { workspace } from "../_harness/proc.ts";
import type { Router } from "../_harness/router.ts";

const ws = workspace("routing", after);
let ca: CertAuthority;
let leaf: LeafCert;

before(() => {
  ca = createCA(ws.subdir("pki"));
  leaf = issueCert(ca, [
    "a.example.test",
    "exact.example.test",
    "*.example.test",
    "other.test",
    "blocked.test",
    "localhost",
    "127.0.0.1",
  ]);
});

type R = Router & { port: number };

describe("default config: acme-tls/1 (exactly) to the ACME server, the rest to the default", () => {
  let acme: TlsIdentityServer;
  let def: TlsIdentityServer;
  let r: R;

  before(async () => {
    acme = await startTlsIdentityServer(ws, { name: "acme", cert: leaf, alpn: ["acme-tls/1"] });
    def = await startTlsIdentityServer(ws, { name: "default", cert: leaf });
    r = await startRouter(ws, { acme: acme.port, def: def.port, label: "router-default" });
  });

  test("openssl without ALPN reaches the default server", async () => {
    const o = await opensslClient({ port: r.port, servername: "a.example.test" });
    assert.equal(o.handshake, true, o.stdout + o.stderr);
    assert.equal(o.who, "default");
    const l = await connLog(r, (c) => c.sni === "a.example.test" && c.alpn === null);
    assert.equal(l.route, "default");
    assert.equal(l.upstream, `127.0.0.1:${def.port}`);
    assert.equal(l.outcome, "spliced");
    assert.ok((l.helloBytes ?? 0) > 200, `helloBytes ${l.helloBytes}`);
  });

  test("openssl -alpn acme-tls/1 reaches the ACME server and negotiates acme-tls/1", async () => {
    const before = acme.connections.length;
    const o = await opensslClient({ port: r.port, servername: "a.example.test", alpn: ["acme-tls/1"] });
    assert.equal(o.handshake, true, o.stdout + o.stderr);
    assert.equal(o.who, "acme");
    assert.equal(o.alpn, "acme-tls/1");
    assert.equal(acme.connections.length, before + 1);
    assert.deepEqual(acme.connections.at(-1), {
      servername: "a.example.test",
      alpn: "acme-tls/1",
      protocol: "TLSv1.3",
    });
    const l = await connLog(r, (c) => c.route === "acme");
    assert.deepEqual(l.alpn, ["acme-tls/1"]);
    assert.equal(l.upstream, `127.0.0.1:${acme.port}`);
  });

  test("openssl -alpn h2,acme-tls/1 goes to the default (acme: exact)", async () => {
    const acmeBefore = acme.connections.length;
    const o = await opensslClient({ port: r.port, servername: "a.example.test", alpn: ["h2", "acme-tls/1"] });
    assert.equal(o.handshake, true, o.stdout + o.stderr);
    assert.equal(o.who, "default");
    assert.equal(acme.connections.length, acmeBefore, "the ACME server must not see a mixed ALPN list");
    const l = await connLog(r, (c) => c.alpn?.join(",") === "h2,acme-tls/1");
    assert.equal(l.route, "default");
  });

  test("node:tls with and without acme-tls/1 reaches the right server", async () => {
    const a = await tlsProbe({ port: r.port, servername: "a.example.test", alpn: ["acme-tls/1"] });
    assert.equal(a.data.toString(), "who=acme\n");
    assert.equal(a.alpn, "acme-tls/1");
    const d = await tlsProbe({ port: r.port, servername: "a.example.test", alpn: ["h2", "http/1.1"] });
    assert.equal(d.data.toString(), "who=default\n");
    assert.equal(d.alpn, false);
    const t12 = await tlsProbe({
      port: r.port,
      servername: "a.example.test",
      alpn: ["acme-tls/1"],
      maxVersion: "TLSv1.2",
    });
    assert.equal(t12.data.toString(), "who=acme\n");
    assert.equal(t12.protocol, "TLSv1.2");
  });

  test("a hello without SNI goes to the default by default (onNoSni: route), like https://203.0.113.7/", async () => {
    const seen = def.connections.length;
    const o = await opensslClient({ port: r.port, noServername: true, timeoutMs: 5000 });
    assert.equal(o.handshake, true, o.stdout + o.stderr);
    assert.equal(o.who, "default");
    const l = await connLog(r, (c) => c.sni === null && c.route === "default");
    assert.equal(l.upstream, `127.0.0.1:${def.port}`);
    assert.equal(l.outcome, "spliced");
    assert.equal(def.connections.length, seen + 1);
    assert.equal(def.connections.at(-1)?.servername, false);
  });
});

describe("HTTP clients through the default route", () => {
  let web: HttpsBackend;
  let acme: TlsIdentityServer;
  let r: R;

  before(async () => {
    web = await startHttpsBackend(ws, { name: "web", cert: leaf });
    acme = await startTlsIdentityServer(ws, { name: "acme-h", cert: leaf, alpn: ["acme-tls/1"] });
    r = await startRouter(ws, { acme: acme.port, def: web.port, label: "router-http" });
  });

  test("curl --http1.1 and curl --http2 get the default HTTPS backend (certificate verified)", async () => {
    const url = `https://a.example.test:${r.port}/curl`;
    const c1 = await curl({ url, cacert: ca.certPath });
    assert.equal(c1.code, 0, c1.stderr);
    assert.equal(c1.httpCode, 200);
    assert.equal(c1.body, "backend:web");
    const c2 = await curl({ url, cacert: ca.certPath, extraArgs: ["--http2"] });
    assert.equal(c2.code, 0, c2.stderr);
    assert.equal(c2.body, "backend:web");
    // The router logs a connection when it closes, which may be just after curl exits.
    for (const alpn of ["http/1.1", "h2,http/1.1"]) {
      const l = await connLog(r, (x) => x.alpn?.join(",") === alpn);
      assert.equal(l.route, "default", alpn);
    }
    assert.equal(acme.connections.length, 0);
    assert.equal(web.requests.filter((q) => q.url === "/curl").length, 2);
  });

  test("node:https reaches the backend, which sees the client's SNI", async () => {
    const h = await httpsRequest(`https://a.example.test:${r.port}/info`, {
      ca: ca.cert,
      connectHost: "127.0.0.1",
      alpn: ["http/1.1"],
    });
    assert.equal(h.status, 200);
    assert.equal(h.headers["x-backend"], "web");
    const info = JSON.parse(h.body) as { servername: string; remoteAddress: string };
    assert.equal(info.servername, "a.example.test");
  });
});

describe("YAML routes: sni exact + wildcard, alpn matcher, reject, noSni", () => {
  const ids: Record<string, TlsIdentityServer> = {};
  let r: R;

  before(async () => {
    for (const name of ["exact", "wild", "special", "nosni", "fallback", "acme-y"]) {
      ids[name] = await startTlsIdentityServer(ws, {
        name,
        cert: leaf,
        ...(name === "acme-y" ? { alpn: ["acme-tls/1"] } : {}),
      });
    }
    const up = (n: string) => ({ upstream: `127.0.0.1:${ids[n]?.port}` });
    r = await startRouter(ws, {
      label: "router-yaml",
      acme: (ids["acme-y"] as TlsIdentityServer).port,
      config: {
        onNoSni: "route",
        routes: [
          { name: "exact", match: { sni: ["exact.example.test"] }, target: up("exact") },
          { name: "wild", match: { sni: ["*.example.test"] }, target: up("wild") },
          { name: "special", match: { alpn: ["x-special", "x-other"] }, target: up("special") },
          { name: "blocked", match: { sni: ["blocked.test"] }, target: "reject" },
          { name: "nosni", match: { noSni: true }, target: up("nosni") },
        ],
        default: up("fallback"),
      },
    });
  });

  const who = async (servername: string | undefined, alpn?: string[]) => {
    const o = await opensslClient({
      port: r.port,
      ...(servername === undefined ? { noServername: true } : { servername }),
      ...(alpn ? { alpn } : {}),
      timeoutMs: 5000,
    });
    return o.who;
  };

  test("exact name beats the wildcard; wildcard covers one label; others go to the default", async () => {
    assert.equal(await who("exact.example.test"), "exact");
    assert.equal(await who("foo.example.test"), "wild");
    assert.equal(await who("FOO.Example.TEST"), "wild", "names are case-insensitive");
    assert.equal(await who("a.b.example.test"), "fallback", "* is one label");
    assert.equal(await who("example.test"), "fallback");
    assert.equal(await who("other.test"), "fallback");
    assert.equal(ids["wild"]?.connections.length, 2);
    assert.equal(ids["exact"]?.connections.length, 1);
    const l = await connLog(r, (c) => c.sni === "exact.example.test");
    assert.equal(l.route, "exact");
    assert.equal(l.upstream, `127.0.0.1:${ids["exact"]?.port}`);
  });

  test("alpn matcher: any listed protocol offered selects the route", async () => {
    assert.equal(await who("other.test", ["h2", "x-other"]), "special");
    assert.equal(await who("other.test", ["h2", "http/1.1"]), "fallback");
    // Earlier routes win: the SNI route comes before the alpn route.
    assert.equal(await who("foo.example.test", ["x-special"]), "wild");
    // The acme route added by --acme is first, and still exact.
    assert.equal(await who("exact.example.test", ["acme-tls/1"]), "acme-y");
  });

  test("reject target closes the connection; no backend is dialled", async () => {
    const total = () => Object.values(ids).reduce((n, s) => n + s.connections.length, 0);
    const seen = total();
    const o = await opensslClient({ port: r.port, servername: "blocked.test", timeoutMs: 5000 });
    assert.equal(o.handshake, false);
    assert.equal(o.who, undefined);
    assert.equal(o.timedOut, false, "the router must close, not hang");
    const l = await connLog(r, (c) => c.sni === "blocked.test");
    assert.equal(l.route, "blocked");
    assert.equal(l.outcome, "rejected");
    assert.equal(l.upstream, null);
    assert.equal(total(), seen);
  });

  test("onNoSni: route sends a hello without SNI through the routes (noSni matcher)", async () => {
    assert.equal(await who(undefined), "nosni");
    const t = await tlsProbe({ port: r.port, alpn: ["h2"] });
    assert.equal(t.data.toString(), "who=nosni\n");
    assert.equal(ids["nosni"]?.connections.at(-1)?.servername, false);
    const l = await connLog(r, (c) => c.route === "nosni");
    assert.equal(l.sni, null);
    assert.equal(l.outcome, "spliced");
  });
});

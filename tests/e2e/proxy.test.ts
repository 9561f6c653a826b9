/**
 * @module proxy.test — PROXY protocol headers exactly as a backend receives them from alpnmux:
 * v1 and v2 (IPv4 and IPv6) with the client's real address/port as source and the router's
 * listen address/port as destination, v2 TLVs (authority = SNI, ALPN = first offered protocol),
 * the hello (and anything after it) byte-exact behind the header, no header on the ACME route,
 * and nginx (`listen … proxy_protocol`) reporting the original client address.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type CaptureBackend,
  parseProxyHeader,
  startCaptureBackend,
  startNginxProxyBackend,
} from "../_harness/backends.ts";
import { createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import { curl } from "../_harness/clients.ts";
import { connLog, hello, rawClient, startRouter } from "../_harness/e2e-kit.ts";
import { freePort, waitForPort } from "../_harness/ports.ts";
import { workspace } from "../_harness/proc.ts";
import { spawnRouter } from "../_harness/router.ts";

const ws = workspace("proxy", after);

/** Sends `bytes` from a fresh client and returns its port and what backend connection #i got. */
async function through(port: number, be: CaptureBackend, bytes: Buffer, host = "127.0.0.1") {
  const i = be.connections.length;
  const c = await rawClient(port, host);
  c.socket.write(bytes);
  const conn = await be.connection(i);
  await be.waitForBytes(i, bytes.length + 16);
  // Let any straggling bytes arrive, then close.
  await new Promise((r) => setTimeout(r, 30));
  c.socket.destroy();
  return { clientPort: c.localPort, data: conn.data };
}

describe("headers on the wire", () => {
  let be: CaptureBackend;
  before(async () => {
    be = await startCaptureBackend(ws);
  });

  test("v1: PROXY TCP4 <client ip> <listen ip> <client port> <listen port>, then the hello", async () => {
    const r = await startRouter(ws, { def: be.port, defaultProxy: "v1", label: "router-v1" });
    const h = hello("curl-http2");
    const { clientPort, data } = await through(r.port, be, h);
    const line = `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${r.port}\r\n`;
    assert.equal(data.subarray(0, line.length).toString("latin1"), line);
    assert.deepEqual(data.subarray(line.length), h);
    const p = parseProxyHeader(data);
    assert.equal(p?.length, line.length);
    const l = await connLog(r, (x) => x.client === `127.0.0.1:${clientPort}`);
    assert.equal(l.bytesUp, h.length, "bytesUp counts client bytes, not the header");
  });

  test("v2 with tlvs [authority, alpn]: SNI and the FIRST offered ALPN; hello + trailing bytes exact", async () => {
    const r = await startRouter(ws, {
      label: "router-v2",
      config: {
        onNoSni: "route",
        default: { upstream: `127.0.0.1:${be.port}`, proxy: "v2", tlvs: ["authority", "alpn"] },
      },
    });
    // The curl hello offers h2, http/1.1; a dummy ChangeCipherSpec follows in the same write.
    const h = hello("curl-http2");
    const ccs = Buffer.from("140303000101", "hex");
    const sent = Buffer.concat([h, ccs]);
    const { clientPort, data } = await through(r.port, be, sent);
    const p = parseProxyHeader(data);
    assert.ok(p, "no PROXY v2 header");
    assert.equal(p.version, 2);
    assert.equal(p.command, "PROXY");
    assert.equal(p.family, "TCP4");
    assert.equal(p.srcAddr, "127.0.0.1");
    assert.equal(p.srcPort, clientPort);
    assert.equal(p.dstAddr, "127.0.0.1");
    assert.equal(p.dstPort, r.port);
    const tlvs = p.tlvs
      .map((t) => ({ type: t.type, value: t.value.toString("latin1") }))
      .sort((a, b) => a.type - b.type);
    assert.deepEqual(tlvs, [
      { type: 0x01, value: "h2" },
      { type: 0x02, value: "a.example.test" },
    ]);
    assert.equal(p.length, 16 + 12 + (3 + 2) + (3 + 14));
    assert.deepEqual(data.subarray(p.length), sent);

    // No ALPN offered → no ALPN TLV; no SNI → no authority TLV.
    const noAlpn = await through(r.port, be, hello("openssl-sni"));
    assert.deepEqual(
      parseProxyHeader(noAlpn.data)?.tlvs.map((t) => [t.type, t.value.toString()]),
      [[0x02, "a.example.test"]],
    );
    const noSni = await through(r.port, be, hello("openssl-nosni"));
    const pn = parseProxyHeader(noSni.data);
    assert.deepEqual(pn?.tlvs, []);
    assert.deepEqual(noSni.data.subarray(pn?.length), hello("openssl-nosni"));
  });

  test("v2 over IPv6: TCP6 with [::1] as source and destination", async () => {
    const port = await freePort();
    const r = await spawnRouter(
      ws,
      [
        "--listen",
        `127.0.0.1:${port}`,
        "--listen",
        `[::1]:${port}`,
        "--default",
        `127.0.0.1:${be.port}`,
        "--default-proxy",
        "v2",
        "--log-format",
        "json",
      ],
      { label: "router-v6" },
    );
    await waitForPort(port, { host: "::1" });
    const h = hello("node-tls-h2");
    const { clientPort, data } = await through(port, be, h, "::1");
    const p = parseProxyHeader(data);
    assert.equal(p?.family, "TCP6");
    assert.equal(p?.srcAddr, "0:0:0:0:0:0:0:1");
    assert.equal(p?.dstAddr, "0:0:0:0:0:0:0:1");
    assert.equal(p?.srcPort, clientPort);
    assert.equal(p?.dstPort, port);
    assert.deepEqual(p?.tlvs, [], "--default-proxy v2 alone adds no TLVs");
    assert.deepEqual(data.subarray(p?.length), h);
    await r.stop();
  });

  test("v1 on a dual-stack [::] listener: an IPv4 client is TCP4, not ::ffff:127.0.0.1", async () => {
    const port = await freePort();
    const r = await spawnRouter(
      ws,
      [
        "--listen",
        `[::]:${port}`,
        "--default",
        `127.0.0.1:${be.port}`,
        "--default-proxy",
        "v1",
        "--log-format",
        "json",
      ],
      { label: "router-dual" },
    );
    await waitForPort(port, { host: "::1" });
    const h = hello("openssl-sni");
    const v4 = await through(port, be, h, "127.0.0.1");
    assert.equal(
      v4.data.subarray(0, v4.data.indexOf("\r\n") + 2).toString("latin1"),
      `PROXY TCP4 127.0.0.1 127.0.0.1 ${v4.clientPort} ${port}\r\n`,
    );
    const v6 = await through(port, be, h, "::1");
    assert.equal(
      v6.data.subarray(0, v6.data.indexOf("\r\n") + 2).toString("latin1"),
      `PROXY TCP6 ::1 ::1 ${v6.clientPort} ${port}\r\n`,
    );
    assert.deepEqual(v6.data.subarray(v6.data.indexOf("\r\n") + 2), h);
    await r.stop();
  });

  test("the ACME route never gets a header, even when the default has v2", async () => {
    const acme = await startCaptureBackend(ws);
    const r = await startRouter(ws, {
      label: "router-acme",
      acme: acme.port,
      config: {
        default: { upstream: `127.0.0.1:${be.port}`, proxy: "v2", tlvs: ["authority", "alpn"] },
      },
    });
    for (const name of ["openssl-sni-acme", "go-pebble-va", "bun-connect-acme"]) {
      const h = hello(name);
      const i = acme.connections.length;
      const c = await rawClient(r.port);
      c.socket.write(h);
      await acme.waitForBytes(i, h.length);
      await new Promise((res) => setTimeout(res, 30));
      assert.deepEqual(acme.connections[i]?.data, h, `${name}: ACME backend got extra bytes`);
      c.socket.destroy();
    }
    // …while the default on the same router does get one.
    const d = await through(r.port, be, hello("openssl-sni-h2"));
    assert.equal(parseProxyHeader(d.data)?.version, 2);
  });
});

describe("nginx with listen … proxy_protocol", () => {
  let leaf: LeafCert;
  let caPath: string;
  before(() => {
    const ca = createCA(ws.subdir("pki"));
    caPath = ca.certPath;
    leaf = issueCert(ca, ["a.example.test"]);
  });

  for (const v of ["v2", "v1"] as const) {
    test(`reports the original client address for HTTPS through alpnmux (--default-proxy ${v})`, async () => {
      const ng = await startNginxProxyBackend(ws, { cert: leaf, name: `nginx-${v}` });
      const r = await startRouter(ws, { def: ng.port, defaultProxy: v, label: `router-nginx-${v}` });
      const clientPort = await freePort();
      const c = await curl({
        url: `https://a.example.test:${r.port}/`,
        cacert: caPath,
        extraArgs: ["--local-port", String(clientPort)],
      });
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.httpCode, 200);
      assert.equal(c.body, `127.0.0.1:${clientPort}`);
      // nginx writes the access log line after the response; give it a moment.
      for (let i = 0; i < 40 && ng.accessLog().length === 0; i++)
        await new Promise((res) => setTimeout(res, 25));
      assert.deepEqual(ng.accessLog(), [`127.0.0.1:${clientPort} 127.0.0.1 a.example.test`]);
      await r.stop();
      await ng.stop();
    });
  }
});

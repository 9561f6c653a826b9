/**
 * @module harness.test — proves the e2e harness works without the router: Pebble + lego issue a
 * certificate over tls-alpn-01, nginx reads a hand-made PROXY v2 header, the backends answer.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import tls from "node:tls";
import {
  parseProxyHeader,
  startCaptureBackend,
  startHashBackend,
  startHttpsBackend,
  startNginxProxyBackend,
  startTlsIdentityServer,
} from "../_harness/backends.ts";
import { type CertAuthority, createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import {
  captureNodeHello,
  curl,
  httpsRequest,
  opensslClient,
  rawExchange,
  splitAt,
  tlsProbe,
} from "../_harness/clients.ts";
import { runLego } from "../_harness/lego.ts";
import { startPebble } from "../_harness/pebble.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("harness", after);
let ca: CertAuthority;
let leaf: LeafCert;

before(() => {
  ca = createCA(ws.subdir("pki"));
  leaf = issueCert(ca, ["backend.example.test", "localhost", "127.0.0.1"]);
});

describe("Pebble + lego (no router)", () => {
  test("Pebble validates a TLS-ALPN-01 challenge answered directly by lego", async () => {
    const pebble = await startPebble(ws);
    const r = await runLego(ws, {
      pebble,
      domains: ["direct.example.test"],
      tlsAddress: `127.0.0.1:${pebble.tlsPort}`,
    });
    assert.equal(r.code, 0, `lego failed; log ${r.logPath}\n${r.output.slice(-3000)}`);
    assert.deepEqual(r.sans, ["direct.example.test"]);
    assert.match(pebble.pebble.output(), /Starting 3 validations/);
    const root = await pebble.issuingRoot();
    assert.match(root, /BEGIN CERTIFICATE/);
    await pebble.stop();
  });
});

describe("nginx PROXY v2 backend", () => {
  test("reports the client address from a hand-made PROXY v2 header", async () => {
    const ng = await startNginxProxyBackend(ws, { cert: leaf });
    // PROXY v2: signature, 0x21 (v2, PROXY), 0x11 (TCP over IPv4), length 12,
    // src 203.0.113.7:51234, dst 192.0.2.1:443.
    const header = Buffer.concat([
      Buffer.from("0d0a0d0a000d0a515549540a", "hex"),
      Buffer.from([0x21, 0x11, 0x00, 0x0c]),
      Buffer.from([203, 0, 113, 7]),
      Buffer.from([192, 0, 2, 1]),
      Buffer.from([51234 >> 8, 51234 & 0xff, 443 >> 8, 443 & 0xff]),
    ]);
    assert.equal(header.length, 28);
    assert.deepEqual(parseProxyHeader(header), {
      version: 2,
      length: 28,
      command: "PROXY",
      family: "TCP4",
      srcAddr: "203.0.113.7",
      dstAddr: "192.0.2.1",
      srcPort: 51234,
      dstPort: 443,
      tlvs: [],
    });
    // Send the header on a raw socket, then run TLS + HTTP over the same socket.
    const body = await new Promise<string>((resolve, reject) => {
      const raw = new net.Socket();
      raw.connect(ng.port, "127.0.0.1", () => {
        raw.write(header);
        const s = tls.connect({ socket: raw, servername: "backend.example.test", ca: ca.cert });
        let text = "";
        s.on("secureConnect", () =>
          s.write("GET / HTTP/1.1\r\nHost: backend.example.test\r\nConnection: close\r\n\r\n"),
        );
        s.on("data", (c: Buffer) => {
          text += c.toString("utf8");
        });
        s.on("end", () => resolve(text));
        s.on("error", reject);
      });
      raw.on("error", reject);
    });
    assert.match(body, /^HTTP\/1\.1 200/);
    assert.equal(body.split("\r\n\r\n")[1], "203.0.113.7:51234");
    // Without a header nginx refuses the connection (so a router that forgets PROXY is caught).
    const bad = await curl({
      url: `https://backend.example.test:${ng.port}/`,
      cacert: ca.certPath,
      timeoutS: 3,
    });
    assert.notEqual(bad.code, 0);
    assert.match(ng.accessLog().join("\n"), /203\.0\.113\.7:51234 127\.0\.0\.1 backend\.example\.test/);
    await ng.stop();
  });
});

describe("backends and clients", () => {
  test("HTTPS backend answers curl and node https with its name", async () => {
    const be = await startHttpsBackend(ws, { name: "web", cert: leaf });
    const c = await curl({ url: `https://backend.example.test:${be.port}/x`, cacert: ca.certPath });
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.httpCode, 200);
    assert.equal(c.body, "backend:web");
    const h = await httpsRequest(`https://backend.example.test:${be.port}/info`, {
      ca: ca.cert,
      connectHost: "127.0.0.1",
      alpn: ["http/1.1"],
    });
    assert.equal(h.status, 200);
    assert.equal(h.alpn, "http/1.1");
    assert.equal(JSON.parse(h.body).servername, "backend.example.test");
    assert.equal(be.requests.length, 2);
  });

  test("TLS identity server answers openssl s_client and node:tls", async () => {
    const id = await startTlsIdentityServer(ws, { name: "raw", cert: leaf });
    const o = await opensslClient({
      port: id.port,
      servername: "backend.example.test",
      alpn: ["h2", "http/1.1"],
    });
    assert.equal(o.handshake, true, o.stdout + o.stderr);
    assert.equal(o.who, "raw");
    assert.equal(o.alpn, undefined);
    const t = await tlsProbe({ port: id.port, servername: "backend.example.test", ca: ca.cert });
    assert.equal(t.authorized, true);
    assert.equal(t.data.toString(), "who=raw\n");
    assert.deepEqual(
      id.connections.map((c) => c.servername),
      ["backend.example.test", "backend.example.test"],
    );
  });

  test("capture backend records chunked bytes exactly; hash backend survives half-close", async () => {
    const cap = await startCaptureBackend(ws);
    const payload = Buffer.from("hello, capture");
    const r = await rawExchange({
      port: cap.port,
      chunks: [payload.subarray(0, 3), payload.subarray(3)],
      delayMs: 50,
      endAfterWrite: true,
    });
    assert.equal(r.end === "remote-end" || r.end === "remote-close", true);
    const conn = await cap.connection(0);
    assert.deepEqual(await conn.ended, payload);
    assert.deepEqual(conn.chunkSizes, [3, payload.length - 3]);

    const hb = await startHashBackend(ws);
    const big = Buffer.alloc(8 << 20, 7);
    const hr = await rawExchange({ port: hb.port, chunks: [big], endAfterWrite: true, timeoutMs: 10_000 });
    const expected = createHash("sha256").update(big).digest("hex");
    assert.equal(hr.received.toString(), `${expected} ${big.length}\n`);
  });

  test("a captured node:tls ClientHello replayed in split chunks arrives byte-exact", async () => {
    const hello = await captureNodeHello({ servername: "backend.example.test", alpn: ["acme-tls/1"] });
    assert.equal(hello[0], 0x16);
    assert.equal(hello.length, 5 + hello.readUInt16BE(3));
    assert.ok(hello.includes(Buffer.from("acme-tls/1")));
    const cap = await startCaptureBackend(ws);
    await rawExchange({
      port: cap.port,
      chunks: splitAt(hello, [1, 5, 60]),
      delayMs: 30,
      endAfterWrite: true,
    });
    const conn = await cap.connection(0);
    assert.deepEqual(await conn.ended, hello);
    assert.deepEqual(conn.chunkSizes, [1, 4, 55, hello.length - 60]);
  });
});

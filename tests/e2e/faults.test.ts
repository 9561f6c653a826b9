/**
 * @module faults.test — clients and upstreams that misbehave: silent or stalled clients closed at
 * the hello timeout (and never passed to the default), garbage closed at once with the right log
 * outcome, an upstream that refuses or never answers (connect timeout), per-IP hello limits, and
 * the process still routing normally afterwards.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import {
  type CaptureBackend,
  startCaptureBackend,
  startTlsIdentityServer,
  type TlsIdentityServer,
} from "../_harness/backends.ts";
import { createCA, issueCert } from "../_harness/certs.ts";
import { opensslClient, rawExchange } from "../_harness/clients.ts";
import { connLog, connLogs, hello, rawClient, sleep, startRouter } from "../_harness/e2e-kit.ts";
import { freePort } from "../_harness/ports.ts";
import { spawnProc, workspace } from "../_harness/proc.ts";

const ws = workspace("faults", after);

let def: CaptureBackend;
let ok: TlsIdentityServer;
let r: Awaited<ReturnType<typeof startRouter>>;

before(async () => {
  const ca = createCA(ws.subdir("pki"));
  def = await startCaptureBackend(ws);
  ok = await startTlsIdentityServer(ws, { name: "ok", cert: issueCert(ca, ["ok.example.test"]) });
  r = await startRouter(ws, {
    helloTimeout: "1s",
    config: {
      routes: [
        { name: "ok", match: { sni: ["ok.example.test"] }, target: { upstream: `127.0.0.1:${ok.port}` } },
      ],
      default: { upstream: `127.0.0.1:${def.port}` },
    },
  });
});

/**
 * Connects from a chosen local port and resolves when the router drops the connection (RST may
 * arrive before or after `connect`), with the time since the connect call.
 */
function droppedConnect(port: number, localPort: number): Promise<{ how: string; afterMs: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1", localPort });
    const done = (how: string) => {
      resolve({ how, afterMs: Date.now() - t0 });
      s.destroy();
    };
    s.on("error", (e: NodeJS.ErrnoException) => done(e.code ?? "error"));
    s.on("end", () => done("end"));
    s.on("close", () => done("close"));
    setTimeout(() => done("still-open"), 3000);
  });
}

/** A normal TLS request through the router still works. */
async function stillRouting(): Promise<void> {
  const o = await opensslClient({ port: r.port, servername: "ok.example.test" });
  assert.equal(o.who, "ok", `router no longer routes: ${o.stdout}${o.stderr}`);
}

describe("hello timeout (1 s)", () => {
  test("silent, 1-byte, half-hello and drip-feeding clients are all closed at ≈1 s; the default never sees them", async () => {
    const h = hello("openssl-sni");
    const clients = await Promise.all([
      rawClient(r.port),
      rawClient(r.port),
      rawClient(r.port),
      rawClient(r.port),
    ]);
    const [, oneByte, half, drip] = clients;
    oneByte?.socket.write(h.subarray(0, 1));
    half?.socket.write(h.subarray(0, 150));
    // Slowloris: one byte every 50 ms must not extend the deadline (it would finish at ~16 s).
    let n = 0;
    const dripTimer = setInterval(() => {
      if (drip && !drip.socket.destroyed && n < h.length) drip.socket.write(h.subarray(n, ++n));
    }, 50);
    after(() => clearInterval(dripTimer));
    const ends = await Promise.all(clients.map((c) => c.closed));
    clearInterval(dripTimer);
    for (const [i, e] of ends.entries()) {
      // The drip client may write into the router's close and see the RST before the FIN.
      assert.ok(
        e.how === "end" || (clients[i] === drip && e.how === "error"),
        `client ${i} was ${e.how}, not closed by the router`,
      );
      assert.ok(e.afterMs >= 900, `client ${i} closed after ${e.afterMs} ms, before the timeout`);
      assert.ok(e.afterMs < 2000, `client ${i} closed after ${e.afterMs} ms`);
      assert.equal(clients[i]?.received().length, 0);
    }
    for (const c of clients) {
      const l = await connLog(r, (x) => x.client === `127.0.0.1:${c.localPort}`);
      assert.equal(l.outcome, "hello-timeout");
      assert.equal(l.upstream, null);
      assert.equal(l.route, null);
      c.socket.destroy();
    }
    await sleep(100);
    assert.equal(def.connections.length, 0, "the default backend got a timed-out client");
  });
});

describe("garbage is closed at once and logged", () => {
  const cases: [string, Buffer, string][] = [
    ["HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "not-tls"],
    ["TLS alert record", Buffer.from("15030100020228", "hex"), "not-tls"],
    ["handshake record carrying a ServerHello", Buffer.from("16030100050200000100", "hex"), "invalid-hello"],
    [
      "record length 65535",
      Buffer.concat([Buffer.from("160301ffff", "hex"), Buffer.alloc(64, 0xa5)]),
      "invalid-hello",
    ],
    ["empty handshake record", Buffer.from("1603010000", "hex"), "invalid-hello"],
    [
      "record version 0xff01",
      Buffer.concat([Buffer.from("16ff01002a", "hex"), Buffer.alloc(42, 1)]),
      "invalid-hello",
    ],
    ["ClientHello declaring 16 MiB", Buffer.from("160301000a01ffffff000000000000", "hex"), "hello-too-large"],
  ];
  for (const [name, bytes, outcome] of cases) {
    test(`${name} → ${outcome}`, async () => {
      const c = await rawClient(r.port);
      c.socket.write(bytes);
      const e = await c.closed;
      assert.equal(e.how, "end");
      assert.ok(e.afterMs < 500, `closed after ${e.afterMs} ms`);
      const l = await connLog(r, (x) => x.client === `127.0.0.1:${c.localPort}`);
      assert.equal(l.outcome, outcome);
      assert.equal(l.upstream, null);
      assert.equal(l.bytesUp, 0);
      c.socket.destroy();
    });
  }

  test("a client that sends half a hello and FIN is closed at once (client-closed)", async () => {
    const c = await rawClient(r.port);
    c.socket.end(hello("curl-http1").subarray(0, 200));
    const e = await c.closed;
    assert.ok(e.afterMs < 500, `closed after ${e.afterMs} ms`);
    const l = await connLog(r, (x) => x.client === `127.0.0.1:${c.localPort}`);
    assert.equal(l.outcome, "client-closed");
    assert.equal(l.helloBytes, null);
    assert.equal(l.upstream, null);
    assert.equal(def.connections.length, 0);
    c.socket.destroy();
  });

  test("onNotTls: default passes plain bytes to the default untouched (contrast)", async () => {
    const plain = await startCaptureBackend(ws);
    const rr = await startRouter(ws, {
      label: "router-nottls-default",
      config: { onNotTls: "default", default: { upstream: `127.0.0.1:${plain.port}` } },
    });
    const req = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const i = plain.connections.length;
    const res = await rawExchange({ port: rr.port, chunks: [req], endAfterWrite: true, timeoutMs: 3000 });
    assert.notEqual(res.end, "timeout");
    const got = await (await plain.connection(i)).ended;
    assert.deepEqual(got, req);
    const l = await connLog(rr, (x) => x.bytesUp === req.length);
    assert.equal(l.route, "default");
    assert.equal(l.helloBytes, null);
  });

  test("the router still routes after all of the above", stillRouting);
});

describe("upstream failures", () => {
  test("a refused upstream closes the client promptly (upstream-error)", async () => {
    const dead = await freePort();
    const rr = await startRouter(ws, { def: dead, label: "router-refused" });
    const c = await rawClient(rr.port);
    c.socket.write(hello("openssl-sni"));
    const e = await c.closed;
    assert.ok(e.afterMs < 1000, `closed after ${e.afterMs} ms`);
    assert.equal(c.received().length, 0);
    const l = await connLog(rr, (x) => x.client === `127.0.0.1:${c.localPort}`);
    assert.equal(l.outcome, "upstream-error");
    assert.equal(l.upstream, `127.0.0.1:${dead}`);
    assert.equal(l.route, "default");
    assert.ok(l.error, "the log line names the error");
    c.socket.destroy();
    // And again: the process did not die on it.
    const c2 = await rawClient(rr.port);
    c2.socket.write(hello("openssl-sni"));
    assert.equal((await c2.closed).how, "end");
    assert.equal(rr.proc.exitStatus(), undefined);
    c2.socket.destroy();
  });

  test("an upstream whose accept queue is full (connect hangs) hits connectTimeout: 500ms", async (t) => {
    // Python listens with backlog 0 and never accepts; one filler connection fills the accept
    // queue, after which Linux drops SYNs, so the router's connect hangs (no external traffic).
    const py = spawnProc(ws, "blackhole", [
      "python3",
      "-c",
      "import socket,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)",
    ]);
    // python3 is a prerequisite (scripts/ensure-tools.mjs installs it): no skip.
    const port = Number(await py.waitForLine(/^\d+$/, 5000));
    const filler = net.connect(port, "127.0.0.1");
    filler.on("error", () => {});
    await new Promise((res) => filler.once("connect", res));
    t.after(() => {
      filler.destroy();
    });
    const rr = await startRouter(ws, {
      label: "router-blackhole",
      config: { connectTimeout: "500ms", default: { upstream: `127.0.0.1:${port}` } },
    });
    const c = await rawClient(rr.port);
    c.socket.write(hello("openssl-sni"));
    const e = await c.closed;
    assert.ok(e.afterMs >= 400, `closed after ${e.afterMs} ms, before the connect timeout`);
    assert.ok(e.afterMs < 1500, `closed after ${e.afterMs} ms`);
    const l = await connLog(rr, (x) => x.client === `127.0.0.1:${c.localPort}`);
    assert.equal(l.outcome, "upstream-error");
    assert.match(l.error ?? "", /timed out after 500ms/);
    c.socket.destroy();

    // A client that gives up (RST) while the upstream is still connecting is noticed at once
    // (the router keeps reading during the dial), not only when the connect attempt ends. A FIN
    // alone would be a half-close: the client may still want the reply, so that waits.
    const r2 = await startRouter(ws, {
      label: "router-blackhole-leave",
      config: { connectTimeout: "3s", default: { upstream: `127.0.0.1:${port}` } },
    });
    const d = await rawClient(r2.port);
    d.socket.write(hello("openssl-sni"));
    await sleep(200);
    const leftAt = Date.now();
    d.socket.resetAndDestroy();
    const gone = await connLog(r2, (x) => x.client === `127.0.0.1:${d.localPort}`, 2500);
    assert.ok(Date.now() - leftAt < 1500, `logged ${Date.now() - leftAt} ms after the client left`);
    assert.notEqual(gone.outcome, "upstream-error");
    await py.stop();
  });
});

describe("limits", () => {
  test("maxHelloConnectionsPerIp: 2 — a 3rd silent connection is closed at once, the first two wait", async () => {
    const rr = await startRouter(ws, {
      label: "router-limits",
      helloTimeout: "1s",
      config: {
        limits: { maxHelloConnectionsPerIp: 2 },
        routes: [
          { name: "ok", match: { sni: ["ok.example.test"] }, target: { upstream: `127.0.0.1:${ok.port}` } },
        ],
        default: { upstream: `127.0.0.1:${def.port}` },
      },
    });
    // Let the readiness probe's connection leave the hello phase first.
    await connLog(rr, () => true);
    const a = await rawClient(rr.port);
    const b = await rawClient(rr.port);
    await sleep(50);
    const ce = await droppedConnect(rr.port, await freePort());
    assert.notEqual(ce.how, "still-open");
    assert.ok(ce.afterMs < 300, `3rd connection closed after ${ce.afterMs} ms (${ce.how})`);
    let aDone = false;
    void a.closed.then(() => {
      aDone = true;
    });
    await sleep(100);
    assert.equal(aDone, false, "the first connection must still be waiting for its hello");
    const refused = await rr.waitForLog((l) => /hello-per-ip/.test(String(l["message"])), 2000);
    assert.match(String((refused["properties"] as { client?: string }).client), /^127\.0\.0\.1/);
    const [ae, be] = await Promise.all([a.closed, b.closed]);
    assert.ok(ae.afterMs >= 900 && be.afterMs >= 900, `a ${ae.afterMs} ms, b ${be.afterMs} ms`);
    for (const s of [a, b]) s.socket.destroy();
    // The counters went back down: a full hello from the same IP is routed again.
    const o = await opensslClient({ port: rr.port, servername: "ok.example.test" });
    assert.equal(o.who, "ok");
  });
});

// The README promises one line per connection with an outcome. These two cases break that
// (router bugs, see the report): they fail until packages/* is fixed.
describe("every connection gets a connection log line with the right outcome", () => {
  test("a connection refused by a limit is logged with outcome `limit`", async () => {
    const rr = await startRouter(ws, {
      label: "router-limit-log",
      config: { limits: { maxHelloConnectionsPerIp: 1 }, default: { upstream: `127.0.0.1:${def.port}` } },
    });
    await connLog(rr, () => true); // the readiness probe has left the hello phase
    const a = await rawClient(rr.port);
    await sleep(50);
    const bPort = await freePort();
    const b = await droppedConnect(rr.port, bPort);
    assert.notEqual(b.how, "still-open");
    await rr.waitForLog((l) => /hello-per-ip/.test(String(l["message"])), 2000);
    await sleep(50);
    const line = connLogs(rr).find((l) => l.client === `127.0.0.1:${bPort}`);
    a.socket.destroy();
    assert.ok(
      line,
      `no connection line for the refused client 127.0.0.1:${bPort}; the refusal was logged as ${JSON.stringify(
        rr.logs().find((l) => /hello-per-ip/.test(String(l["message"])))?.["properties"],
      )}`,
    );
    assert.equal(line.outcome, "limit");
  });

  test("a hello-phase connection closed by SIGTERM is logged with outcome `shutdown`, not `client-closed`", async () => {
    const rr = await startRouter(ws, { label: "router-shutdown-log", def: def.port });
    await connLog(rr, () => true);
    const w = await rawClient(rr.port);
    await sleep(50);
    process.kill(rr.proc.pid, "SIGTERM");
    await w.closed;
    await rr.proc.exited;
    const line = connLogs(rr).find((l) => l.client === `127.0.0.1:${w.localPort}`);
    w.socket.destroy();
    assert.equal(line?.end, "shutdown");
    assert.equal(line?.outcome, "shutdown", "the client did not close: the router did");
  });
});

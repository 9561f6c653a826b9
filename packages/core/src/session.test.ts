import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildHello, buildHelloMessage, frame } from "../testing/hello-builder.ts";
import { decodeProxyHeader } from "../testing/proxy-protocol-decoder.ts";
import { concat } from "./bytes.ts";
import { parseConfig, type RouterConfigInput } from "./config.ts";
import { createRouter } from "./router.ts";
import type { Action, ConnectionRecord } from "./session.ts";

const info = { client: { address: "192.0.2.10", port: 50123 }, local: { address: "192.0.2.1", port: 443 } };

function setup(input: Partial<RouterConfigInput> = {}) {
  let now = 1000;
  const router = createRouter({
    config: parseConfig({
      routes: [{ name: "acme", match: { acme: "exact" }, target: { upstream: "127.0.0.1:10443" } }],
      default: { upstream: "127.0.0.1:8443", proxy: "v2", tlvs: ["authority", "alpn"] },
      ...input,
    }),
    now: () => now,
  });
  const records: ConnectionRecord[] = [];
  const closed = router.closed.bind(router);
  router.closed = (s, r) => {
    records.push(r);
    closed(s, r);
  };
  return { router, records, tick: (ms: number) => (now += ms) };
}

function open(router: ReturnType<typeof createRouter>) {
  const r = router.accept(info);
  assert.ok(r.ok);
  return r.session;
}

function dial(a: Action) {
  assert.equal(a.type, "dial");
  if (a.type !== "dial") throw new Error("unreachable");
  return a;
}

describe("Session", () => {
  test("waits for the whole hello, then dials the default with PROXY v2 + the exact client bytes", () => {
    const { router } = setup();
    const s = open(router);
    const hello = buildHello({ sni: "www.example", alpn: ["h2", "http/1.1"] });
    assert.equal(s.onData(hello.subarray(0, 100)).type, "wait");
    const a = dial(s.onData(hello.subarray(100)));
    assert.deepEqual(a.upstream, { host: "127.0.0.1", port: 8443 });
    const h = decodeProxyHeader(a.prelude);
    assert.equal(h.kind, "header");
    if (h.kind !== "header") return;
    assert.equal(a.headerLength, h.length);
    assert.deepEqual(h.source, { address: "192.0.2.10", port: 50123 });
    assert.deepEqual(h.destination, { address: "192.0.2.1", port: 443 });
    const tlvs = Object.fromEntries(h.tlvs.map((t) => [t.type, new TextDecoder().decode(t.value)]));
    assert.deepEqual(tlvs, { 1: "h2", 2: "www.example" });
    assert.deepEqual(a.prelude.subarray(h.length), hello);
  });

  test("the ACME route gets the hello bytes and no PROXY header", () => {
    const { router } = setup();
    const s = open(router);
    const hello = buildHello({ sni: "a.example", alpn: ["acme-tls/1"] });
    const a = dial(s.onData(hello));
    assert.equal(a.headerLength, 0);
    assert.deepEqual(a.prelude, hello);
    assert.equal(s.route, "acme");
  });

  test("bytes after the hello in the same read are forwarded too", () => {
    const { router } = setup();
    const s = open(router);
    const bytes = concat(buildHello({ alpn: ["acme-tls/1"] }), [20, 3, 3, 0, 1, 1]);
    assert.deepEqual(dial(s.onData(bytes)).prelude, bytes);
  });

  test("a silent client is closed at the timeout and never dialed (fail closed)", () => {
    const { router, records, tick } = setup();
    const s = open(router);
    assert.equal(s.onData(buildHello().subarray(0, 10)).type, "wait");
    tick(10_000);
    assert.deepEqual(s.onTimeout(), { type: "close", reason: "hello-timeout" });
    s.onClose({ bytesUp: 0, bytesDown: 0 });
    assert.equal(records[0]?.outcome, "hello-timeout");
    assert.equal(records[0]?.route, null);
    assert.equal(router.inHello, 0);
    assert.equal(router.active, 0);
  });

  test("garbage is closed and counted by error code", () => {
    const { router, records } = setup();
    const s = open(router);
    assert.deepEqual(s.onData(Uint8Array.from([22, 3, 1, 0, 0])), { type: "close", reason: "invalid-hello" });
    s.onClose({ bytesUp: 0, bytesDown: 0 });
    assert.equal(records[0]?.outcome, "invalid-hello");
    assert.match(records[0]?.error ?? "", /empty handshake record/);
    assert.match(router.metrics.registry.render(), /alpnmux_hello_errors_total\{code="empty-record"\} 1/);
  });

  test("not-TLS is closed by default and forwarded with onNotTls: default", () => {
    const a = setup();
    assert.deepEqual(open(a.router).onData(new TextEncoder().encode("GET / HTTP/1.1\r\n")), {
      type: "close",
      reason: "not-tls",
    });
    const b = setup({ onNotTls: "default", default: { upstream: "127.0.0.1:8080" } });
    const get = new TextEncoder().encode("GET / HTTP/1.1\r\n");
    assert.deepEqual(dial(open(b.router).onData(get)).prelude, get);
  });

  test("maxHelloRecords caps the records a hello may span", () => {
    const { router } = setup({ maxHelloRecords: 2 });
    const msg = buildHelloMessage({ sni: "a.example" });
    assert.equal(open(router).onData(frame(msg, [100])).type, "dial", "2 records fit");
    assert.deepEqual(open(router).onData(frame(msg, [50, 50])), { type: "close", reason: "invalid-hello" });
  });

  test("a client FIN during the hello closes", () => {
    const { router } = setup();
    const s = open(router);
    assert.deepEqual(s.onEnd(), { type: "close", reason: "client-closed" });
  });

  test("an upstream error closes and is counted", () => {
    const { router, records } = setup();
    const s = open(router);
    dial(s.onData(buildHello()));
    assert.deepEqual(s.onUpstreamError(new Error("ECONNREFUSED")), {
      type: "close",
      reason: "upstream-error",
    });
    s.onClose({ bytesUp: 0, bytesDown: 0, end: "upstream-error" });
    assert.equal(records[0]?.outcome, "upstream-error");
    assert.equal(records[0]?.error, "ECONNREFUSED");
    assert.match(router.metrics.registry.render(), /alpnmux_upstream_errors_total\{route="default"\} 1/);
  });

  test("one log record per connection with SNI, ALPN, route, bytes and duration", () => {
    const { router, records, tick } = setup();
    const s = open(router);
    dial(s.onData(buildHello({ sni: "www.example", alpn: ["h2"] })));
    tick(250);
    s.onClose({ bytesUp: 1000, bytesDown: 5000, end: "eof" });
    s.onClose({ bytesUp: 1, bytesDown: 1 });
    assert.equal(records.length, 1);
    const r = records[0];
    assert.deepEqual(
      [
        r?.sni,
        r?.alpn,
        r?.route,
        r?.upstream,
        r?.outcome,
        r?.bytesUp,
        r?.bytesDown,
        r?.durationMs,
        r?.client,
      ],
      ["www.example", ["h2"], "default", "127.0.0.1:8443", "spliced", 1000, 5000, 250, "192.0.2.10:50123"],
    );
  });
});

describe("Router limits", () => {
  test("per-IP hello limit refuses the next connection and frees up after routing", () => {
    const { router } = setup({ limits: { maxHelloConnectionsPerIp: 2 } });
    const a = open(router);
    open(router);
    const third = router.accept(info);
    assert.deepEqual(third, { ok: false, limit: "hello-per-ip" });
    assert.ok(
      router.accept({ ...info, client: { address: "192.0.2.99", port: 1 } }).ok,
      "other IPs unaffected",
    );
    dial(a.onData(buildHello()));
    assert.ok(router.accept(info).ok, "a slot frees once a connection leaves the hello phase");
  });

  test("total connection limit", () => {
    const { router } = setup({ limits: { maxConnections: 1 } });
    const s = open(router);
    assert.equal(router.accept(info).ok, false);
    s.onClose({ bytesUp: 0, bytesDown: 0 });
    assert.equal(router.accept(info).ok, true);
  });

  test("IPv4-mapped client addresses are unmapped", () => {
    const { router, records } = setup();
    const r = router.accept({ client: { address: "::ffff:198.51.100.7", port: 9 }, local: info.local });
    assert.ok(r.ok);
    r.session.onClose({ bytesUp: 0, bytesDown: 0 });
    assert.equal(records[0]?.client, "198.51.100.7:9");
  });

  test("setConfig() swaps the table for new connections only", () => {
    const { router } = setup();
    const before = open(router);
    router.setConfig(parseConfig({ default: { upstream: "127.0.0.1:9999" } }));
    const after = open(router);
    assert.equal(dial(before.onData(buildHello())).upstream.port, 9999, "routing happens at hello time");
    assert.equal(dial(after.onData(buildHello())).upstream.port, 9999);
    const routed = open(router);
    const d = dial(routed.onData(buildHello()));
    router.setConfig(parseConfig({ default: { upstream: "127.0.0.1:7777" } }));
    assert.equal(routed.decision?.action === "forward" && routed.decision.upstream.port, 9999);
    assert.equal(d.upstream.port, 9999);
  });
});

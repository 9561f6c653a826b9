/**
 * The connection engine alone (no sockets): a scripted adapter records every I/O request, and
 * the tests play socket events in. The same engine drives the Bun and the Deno listener.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildHello } from "../testing/hello-builder.ts";
import { decodeProxyHeader } from "../testing/proxy-protocol-decoder.ts";
import { parseConfig, type RouterConfigInput } from "./config.ts";
import type { Connection } from "./connection.ts";
import { Engine } from "./engine.ts";
import type { ConnectionRecord, EngineIO } from "./engine-types.ts";
import { HOLD_HIGH_WATER } from "./flow.ts";
import { type ChallengeHost, createRouter } from "./router.ts";
import type { ChallengeResponder, ResponderOutput } from "./tls13/responder.ts";

const info = { client: { address: "192.0.2.10", port: 50123 }, local: { address: "192.0.2.1", port: 443 } };

/** A socket as the fake adapter sees it: what was written, and its state. */
interface Sock {
  name: string;
  written: Uint8Array[];
  paused: boolean;
  shut: boolean;
  closed: "no" | "graceful" | "reset";
  /** `write` returns this (false = backed up). */
  accepts: boolean;
}

const sock = (name: string): Sock => ({
  name,
  written: [],
  paused: false,
  shut: false,
  closed: "no",
  accepts: true,
});
const bytesOf = (s: Sock) => Buffer.concat(s.written);

function setup(input: Partial<RouterConfigInput> = {}, challenges?: ChallengeHost) {
  let now = 1000;
  const router = createRouter({
    config: parseConfig({
      routes: [{ name: "acme", match: { acme: "exact" }, target: { upstream: "127.0.0.1:10443" } }],
      default: { upstream: "127.0.0.1:8443", proxy: "v2", tlvs: ["authority", "alpn"] },
      ...input,
    }),
    now: () => now,
    ...(challenges ? { responder: challenges } : {}),
  });
  const records: ConnectionRecord[] = [];
  const closed = router.closed.bind(router);
  router.closed = (c, r) => {
    records.push(r);
    closed(c, r);
  };
  const dials: { conn: Connection<Sock>; host: string; port: number }[] = [];
  const timers: number[] = [];
  const io: EngineIO<Sock> = {
    write(s, b) {
      s.written.push(b.slice());
      return s.accepts;
    },
    pause(s) {
      s.paused = true;
    },
    resume(s) {
      s.paused = false;
    },
    shutdown(s) {
      s.shut = true;
    },
    close(s, reset) {
      s.closed = reset ? "reset" : "graceful";
    },
    dial(conn, host, port) {
      dials.push({ conn, host, port });
    },
    timer(ms) {
      timers.push(ms);
    },
  };
  const engine = new Engine({ router, io });
  /** Time passes (no timer fires). */
  const advance = (ms: number) => {
    now += ms;
  };
  /** Time passes and the adapter's timer fires. */
  const tick = (ms: number) => {
    now += ms;
    engine.timeout();
  };
  return { engine, router, records, dials, timers, tick, advance, io };
}

/** Opens a connection, sends a hello, and (for forward routes) completes the dial. */
function spliced(t: ReturnType<typeof setup>, hello = buildHello({ sni: "www.example", alpn: ["h2"] })) {
  const client = sock("client");
  const c = t.engine.open(client, info);
  const dialsBefore = t.dials.length;
  t.engine.data(c, "client", hello);
  assert.equal(t.dials.length, dialsBefore + 1);
  const upstream = sock("upstream");
  t.engine.dialed(c, upstream);
  return { c, client, upstream, hello };
}

function onlyRecord(t: ReturnType<typeof setup>): ConnectionRecord {
  assert.equal(t.records.length, 1, JSON.stringify(t.records));
  return t.records[0] as ConnectionRecord;
}

function metric(t: ReturnType<typeof setup>, line: string): number {
  const m = t.router.metrics.registry
    .render()
    .split("\n")
    .find((l) => l.startsWith(`${line} `));
  return m === undefined ? 0 : Number(m.split(" ")[1]);
}

describe("Engine: hello and decision", () => {
  test("a hello in 1-byte chunks dials the default once, then sends PROXY v2 + the exact client bytes in one write", () => {
    const t = setup();
    const client = sock("client");
    const c = t.engine.open(client, info);
    const hello = buildHello({ sni: "www.example", alpn: ["h2", "http/1.1"] });
    for (const b of hello) t.engine.data(c, "client", Uint8Array.of(b));
    assert.deepEqual(
      t.dials.map((d) => `${d.host}:${d.port}`),
      ["127.0.0.1:8443"],
    );
    const upstream = sock("upstream");
    t.engine.dialed(c, upstream);
    assert.equal(upstream.written.length, 1, "header and hello in one write");
    const out = bytesOf(upstream);
    const h = decodeProxyHeader(out);
    assert.equal(h.kind, "header");
    if (h.kind !== "header") return;
    assert.deepEqual(h.source, { address: "192.0.2.10", port: 50123 });
    const tlvs = Object.fromEntries(h.tlvs.map((x) => [x.type, new TextDecoder().decode(x.value)]));
    assert.deepEqual(tlvs, { 1: "h2", 2: "www.example" });
    assert.deepEqual(out.subarray(h.length), Buffer.from(hello));
    assert.equal(c.phase, "splice");
  });

  test("acme-tls/1 goes to the ACME route with no PROXY header", () => {
    const t = setup();
    const { upstream, hello } = spliced(t, buildHello({ sni: "a.example", alpn: ["acme-tls/1"] }));
    assert.deepEqual(bytesOf(upstream), Buffer.from(hello));
    assert.equal(t.dials[0]?.port, 10443);
  });

  test("a hello without SNI goes to the default by default (onNoSni: route)", () => {
    const t = setup({ default: { upstream: "127.0.0.1:8443" } });
    const { hello, upstream } = spliced(t, buildHello({ alpn: ["h2"] }));
    assert.deepEqual(bytesOf(upstream), Buffer.from(hello));
  });

  test("an invalid hello is closed, counted by code and logged with the parser's reason", () => {
    const t = setup();
    const client = sock("client");
    const c = t.engine.open(client, info);
    const bad = buildHello({ sni: "www.example" });
    bad[5] = 2; // ServerHello, not ClientHello
    t.engine.data(c, "client", bad);
    assert.equal(client.closed, "graceful");
    const r = onlyRecord(t);
    assert.equal(r.outcome, "invalid-hello");
    assert.match(r.error ?? "", /./);
    assert.equal(t.dials.length, 0);
    assert.equal(t.router.inHello, 0);
    assert.equal(t.router.active, 0);
  });

  test("the hello timeout closes a silent client (one timer for all connections)", () => {
    const t = setup({ helloTimeout: "2s" });
    const a = sock("a");
    const b = sock("b");
    t.engine.open(a, info);
    t.advance(500);
    t.engine.open(b, info);
    assert.deepEqual(t.timers, [2000], "the second deadline is later: no new timer");
    t.tick(1500);
    assert.equal(a.closed, "graceful");
    assert.equal(b.closed, "no");
    assert.deepEqual(t.timers, [2000, 500], "then the timer is set for the next deadline");
    t.tick(500);
    assert.equal(b.closed, "graceful");
    assert.deepEqual(
      t.records.map((r) => [r.outcome, r.end]),
      [
        ["hello-timeout", "hello-timeout"],
        ["hello-timeout", "hello-timeout"],
      ],
    );
  });

  test("a connection refused by a limit is reset at once and logged with outcome limit", () => {
    const t = setup({ limits: { maxHelloConnectionsPerIp: 1 } });
    t.engine.open(sock("a"), info);
    const b = sock("b");
    const c = t.engine.open(b, info);
    assert.equal(b.closed, "reset");
    assert.equal(c.phase, "closed");
    assert.equal(t.engine.size, 1);
    assert.equal(metric(t, 'alpnmux_limit_rejections_total{limit="hello-per-ip"}'), 1);
  });

  test("1000 established connections from one address are all admitted by default", () => {
    const t = setup({ default: { upstream: "127.0.0.1:8443" } });
    for (let i = 0; i < 1000; i++) spliced(t).c;
    assert.equal(t.router.active, 1000);
    assert.equal(t.records.length, 0);
  });
});

describe("Engine: splice", () => {
  test("backpressure: a backed-up upstream pauses the client, its drain writes what was held and resumes", () => {
    const t = setup();
    const { c, client, upstream } = spliced(t);
    upstream.accepts = false;
    t.engine.data(c, "client", Uint8Array.of(1, 2, 3));
    assert.equal(client.paused, true);
    t.engine.data(c, "client", Uint8Array.of(4)); // already read before the pause took effect
    const before = upstream.written.length;
    upstream.accepts = true;
    t.engine.drained(c, "upstream");
    assert.equal(client.paused, false);
    assert.deepEqual(upstream.written.slice(before), [Uint8Array.of(4)]);
  });

  test("half-close both ways: each FIN is passed on after the bytes before it; both done → eof", () => {
    const t = setup();
    const { c, client, upstream } = spliced(t);
    upstream.accepts = false;
    t.engine.data(c, "client", Uint8Array.of(9));
    t.engine.data(c, "client", Uint8Array.of(8));
    t.engine.end(c, "client");
    assert.equal(upstream.shut, false, "FIN waits for the held byte");
    upstream.accepts = true;
    t.engine.drained(c, "upstream");
    assert.equal(upstream.shut, true);
    t.engine.data(c, "upstream", Uint8Array.of(7, 7));
    assert.deepEqual(bytesOf(client), Buffer.from([7, 7]));
    assert.equal(t.records.length, 0, "the reply after the client's FIN still flows");
    t.engine.end(c, "upstream");
    assert.equal(client.shut, true);
    const r = onlyRecord(t);
    assert.deepEqual([r.outcome, r.end, r.bytesDown], ["spliced", "eof", 2]);
    assert.equal(client.closed, "graceful");
  });

  test("an upstream reset mid-download is an upstream fault: outcome upstream-error, counted, client reset", () => {
    const t = setup({ default: { upstream: "127.0.0.1:8443" } });
    const { c, client, hello } = spliced(t);
    t.engine.data(c, "upstream", new Uint8Array(5000));
    t.engine.reset(c, "upstream", new Error("ECONNRESET"));
    assert.equal(client.closed, "reset");
    const r = onlyRecord(t);
    assert.deepEqual(
      [r.outcome, r.end, r.bytesUp, r.bytesDown],
      ["upstream-error", "upstream-reset", hello.length, 5000],
    );
    assert.equal(metric(t, 'alpnmux_upstream_errors_total{route="default"}'), 1);
  });

  test("a write error on the upstream after its FIN is a normal close, not a fault", () => {
    const t = setup();
    const { c, client } = spliced(t);
    t.engine.data(c, "upstream", Uint8Array.of(1));
    t.engine.end(c, "upstream");
    t.engine.reset(c, "upstream", new Error("EPIPE"));
    assert.equal(client.closed, "graceful");
    const r = onlyRecord(t);
    assert.deepEqual([r.outcome, r.end], ["spliced", "upstream-closed"]);
    assert.equal(metric(t, 'alpnmux_upstream_errors_total{route="default"}'), 0);
  });

  test("a client reset is not an upstream fault: outcome spliced, end client-reset, upstream reset too", () => {
    const t = setup();
    const { c, upstream } = spliced(t);
    t.engine.reset(c, "client", new Error("ECONNRESET"));
    assert.equal(upstream.closed, "reset");
    const r = onlyRecord(t);
    assert.deepEqual([r.outcome, r.end], ["spliced", "client-reset"]);
    assert.equal(metric(t, 'alpnmux_upstream_errors_total{route="default"}'), 0);
  });

  test("a failed write to the client counts as a client reset", () => {
    const t = setup();
    const { c } = spliced(t);
    t.engine.reset(c, "client", new Error("broken pipe"));
    assert.equal(onlyRecord(t).end, "client-reset");
  });

  test("events after the close are ignored; a connect that completes after it is reset", () => {
    const t = setup({ connectTimeout: "1s" });
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", buildHello({ sni: "x.example" }));
    t.tick(1000);
    const r = onlyRecord(t);
    assert.deepEqual([r.outcome, r.end], ["upstream-error", "connect-timeout"]);
    assert.match(r.error ?? "", /connect to 127\.0\.0\.1:8443 timed out after 1000ms/);
    const late = sock("late");
    t.engine.dialed(c, late);
    assert.equal(late.closed, "reset");
    t.engine.data(c, "client", Uint8Array.of(1));
    t.engine.end(c, "client");
    assert.equal(t.records.length, 1);
  });

  test("a refused connect closes the client gracefully with the error", () => {
    const t = setup();
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", buildHello({ sni: "x.example" }));
    t.engine.dialFailed(c, new Error("connection refused"));
    assert.equal(client.closed, "graceful");
    const r = onlyRecord(t);
    assert.deepEqual(
      [r.outcome, r.end, r.error, r.upstream],
      ["upstream-error", "connect-failed", "connection refused", "127.0.0.1:8443"],
    );
  });

  test("bytes sent while dialing are held in order; over 64 KiB the client is paused", () => {
    const t = setup({ default: { upstream: "127.0.0.1:8443" } });
    const client = sock("client");
    const c = t.engine.open(client, info);
    const hello = buildHello({ sni: "x.example" });
    t.engine.data(c, "client", hello);
    t.engine.data(c, "client", new Uint8Array(HOLD_HIGH_WATER - hello.length - 1).fill(1));
    assert.equal(client.paused, false);
    t.engine.data(c, "client", Uint8Array.of(2, 3));
    assert.equal(client.paused, true);
    const upstream = sock("upstream");
    t.engine.dialed(c, upstream);
    assert.equal(client.paused, false);
    const out = bytesOf(upstream);
    assert.equal(out.length, HOLD_HIGH_WATER + 1);
    assert.deepEqual(out.subarray(-2), Buffer.from([2, 3]));
  });

  test("a client FIN while dialing is passed on after connect (half-close), not a close", () => {
    const t = setup();
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", buildHello({ sni: "x.example" }));
    t.engine.end(c, "client");
    assert.equal(t.records.length, 0);
    const upstream = sock("upstream");
    t.engine.dialed(c, upstream);
    assert.equal(upstream.shut, true);
  });

  test("an engine bug on one connection resets that connection only and logs internal-error", () => {
    const t = setup();
    const a = spliced(t);
    const b = spliced(t);
    a.upstream.written = null as unknown as Uint8Array[]; // the fake's write now throws
    t.engine.data(a.c, "client", Uint8Array.of(1));
    assert.equal(a.client.closed, "reset");
    assert.equal(t.records[0]?.outcome, "internal-error");
    t.engine.data(b.c, "client", Uint8Array.of(1));
    assert.equal(b.upstream.written.length, 2);
  });
});

describe("Engine: stop", () => {
  test("closes unrouted connections (shutdown), lets spliced ones finish, resets the rest at the drain deadline", async () => {
    const t = setup();
    const idle = sock("idle");
    t.engine.open(idle, info);
    const dialing = sock("dialing");
    const d = t.engine.open(dialing, info);
    t.engine.data(d, "client", buildHello({ sni: "x.example" }));
    const s1 = spliced(t);
    const s2 = spliced(t);
    let stopped = false;
    const done = t.engine.stop(5000).then(() => (stopped = true));
    assert.equal(idle.closed, "graceful");
    assert.equal(dialing.closed, "graceful");
    assert.deepEqual(
      t.records.map((r) => [r.outcome, r.end]),
      [
        ["shutdown", "shutdown"],
        ["shutdown", "shutdown"],
      ],
    );
    t.engine.end(s1.c, "client");
    t.engine.end(s1.c, "upstream");
    t.tick(4999);
    assert.equal(s2.client.closed, "no");
    t.tick(1);
    await done;
    assert.equal(stopped, true);
    assert.equal(s2.client.closed, "reset");
    assert.deepEqual(
      t.records.slice(2).map((r) => [r.outcome, r.end]),
      [
        ["spliced", "eof"],
        ["spliced", "drain-timeout"],
      ],
    );
  });
});

/** A challenge host whose lookups the test resolves, and responders that echo a script. */
function fakeChallenges(script: (input: Uint8Array, n: number) => ResponderOutput) {
  const lookups: { name: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const received: Uint8Array[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const host: ChallengeHost = {
    lookup: (name) =>
      new Promise((resolve, reject) =>
        lookups.push({ name, resolve: resolve as (v: unknown) => void, reject }),
      ),
    respond: () =>
      ({
        async receive(bytes: Uint8Array) {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          received.push(bytes.slice());
          await new Promise((r) => setTimeout(r, 1));
          inFlight--;
          return script(bytes, received.length);
        },
      }) as unknown as ChallengeResponder,
  };
  return { host, lookups, received, maxInFlight: () => maxInFlight };
}

const flush = () => new Promise((r) => setTimeout(r, 10));
const builtinRoutes = (fallback?: string): Partial<RouterConfigInput> => ({
  routes: [
    {
      name: "acme",
      match: { acme: "exact" },
      target: fallback ? { acme: "builtin", fallback: { upstream: fallback } } : { acme: "builtin" },
    },
  ],
  default: "reject",
});

describe("Engine: built-in responder", () => {
  const acmeHello = () => buildHello({ sni: "a.example", alpn: ["acme-tls/1"], versions: [0x0304] });

  test("the lookup comes first; then one receive() at a time with everything held; done → closed after the write", async () => {
    const f = fakeChallenges((_input, n) =>
      n === 1
        ? { write: Uint8Array.of(0xaa), done: false }
        : {
            write: Uint8Array.of(0xbb),
            done: true,
            outcome: { type: "completed", serverName: "a.example", group: 29, helloRetry: false },
          },
    );
    const t = setup(builtinRoutes(), f.host);
    const client = sock("client");
    const c = t.engine.open(client, info);
    const hello = acmeHello();
    t.engine.data(c, "client", hello);
    assert.deepEqual(
      f.lookups.map((l) => l.name),
      ["a.example"],
    );
    t.engine.data(c, "client", Uint8Array.of(1)); // sent before the lookup answered: held
    f.lookups[0]?.resolve({ certDer: new Uint8Array(0), privateKey: {} });
    await Promise.resolve();
    t.engine.data(c, "client", Uint8Array.of(2));
    t.engine.data(c, "client", Uint8Array.of(3));
    await flush();
    await flush();
    assert.equal(f.maxInFlight(), 1);
    assert.deepEqual(Buffer.concat(f.received), Buffer.concat([hello, Buffer.from([1, 2, 3])]));
    assert.deepEqual(bytesOf(client), Buffer.from([0xaa, 0xbb]));
    assert.equal(client.closed, "graceful");
    const r = onlyRecord(t);
    assert.deepEqual(
      [r.outcome, r.end, r.bytesUp, r.bytesDown],
      ["challenge-served", "responder-done", hello.length + 3, 2],
    );
    assert.equal(metric(t, 'alpnmux_challenges_total{outcome="served"}'), 1);
  });

  test("a validator that sends its Finished and FIN together is answered first (FIN during the handshake is not an abort)", async () => {
    const f = fakeChallenges((_input, n) =>
      n === 1
        ? { write: Uint8Array.of(0xaa), done: false }
        : {
            write: Uint8Array.of(0xbb),
            done: true,
            outcome: { type: "completed", serverName: "a.example", group: 29, helloRetry: false },
          },
    );
    const t = setup(builtinRoutes(), f.host);
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", acmeHello());
    f.lookups[0]?.resolve({ certDer: new Uint8Array(0), privateKey: {} });
    await Promise.resolve();
    t.engine.data(c, "client", Uint8Array.of(0x14));
    t.engine.end(c, "client");
    await flush();
    await flush();
    assert.deepEqual(onlyRecord(t).outcome, "challenge-served");
    // …but a FIN with the handshake unfinished is a failure, once every byte was used.
    const g = fakeChallenges(() => ({ write: new Uint8Array(0), done: false }));
    const u = setup(builtinRoutes(), g.host);
    const d = u.engine.open(sock("client"), info);
    u.engine.data(d, "client", acmeHello());
    g.lookups[0]?.resolve({ certDer: new Uint8Array(0), privateKey: {} });
    await Promise.resolve();
    u.engine.end(d, "client");
    await flush();
    const r = onlyRecord(u);
    assert.deepEqual(
      [r.outcome, r.end, r.error],
      ["challenge-failed", "client-closed", "the client closed during the challenge handshake"],
    );
  });

  test("no challenge and no fallback: unrecognized_name alert, no responder", async () => {
    const f = fakeChallenges(() => assert.fail("the responder must not see it"));
    const t = setup(builtinRoutes(), f.host);
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", acmeHello());
    f.lookups[0]?.resolve(undefined);
    await flush();
    assert.deepEqual(bytesOf(client), Buffer.from([21, 3, 3, 0, 2, 2, 112]));
    const r = onlyRecord(t);
    assert.deepEqual([r.outcome, r.error], ["challenge-missing", 'no challenge stored for "a.example"']);
  });

  test("no challenge with a fallback: every held byte goes to the fallback, in order, with no PROXY header", async () => {
    const f = fakeChallenges(() => assert.fail("the responder must not see it"));
    const t = setup(builtinRoutes("127.0.0.1:10443"), f.host);
    const client = sock("client");
    const c = t.engine.open(client, info);
    const hello = acmeHello();
    t.engine.data(c, "client", hello);
    t.engine.data(c, "client", Uint8Array.of(5, 6));
    f.lookups[0]?.resolve(undefined);
    await flush();
    assert.equal(t.dials[0]?.port, 10443);
    const upstream = sock("upstream");
    t.engine.dialed(c, upstream);
    assert.deepEqual(bytesOf(upstream), Buffer.concat([hello, Buffer.from([5, 6])]));
    t.engine.end(c, "client");
    t.engine.end(c, "upstream");
    assert.equal(onlyRecord(t).outcome, "challenge-fallback");
  });

  test("a store failure sends internal_error and says so", async () => {
    const f = fakeChallenges(() => assert.fail("unreachable"));
    const t = setup(builtinRoutes(), f.host);
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", acmeHello());
    const e = new Error("connection refused");
    e.name = "RedisError";
    f.lookups[0]?.reject(e);
    await flush();
    assert.deepEqual(bytesOf(client), Buffer.from([21, 3, 3, 0, 2, 2, 80]));
    const r = onlyRecord(t);
    assert.equal(r.outcome, "challenge-failed");
    assert.equal(r.error, "challenge lookup failed: RedisError: connection refused");
  });

  test("no SNI or no TLS 1.3: the alert is sent without a store lookup", () => {
    const f = fakeChallenges(() => assert.fail("unreachable"));
    const t = setup({ ...builtinRoutes(), onNoSni: "route" }, f.host);
    const a = sock("a");
    t.engine.data(
      t.engine.open(a, info),
      "client",
      buildHello({ alpn: ["acme-tls/1"], versions: [0x0304], sni: null }),
    );
    const b = sock("b");
    t.engine.data(
      t.engine.open(b, info),
      "client",
      buildHello({ sni: "a.example", alpn: ["acme-tls/1"], versions: [0x0303] }),
    );
    assert.equal(f.lookups.length, 0);
    assert.deepEqual(bytesOf(a), Buffer.from([21, 3, 3, 0, 2, 2, 112]));
    assert.deepEqual(bytesOf(b), Buffer.from([21, 3, 3, 0, 2, 2, 70]));
  });

  test("a client that floods during the lookup is paused at 64 KiB, not buffered without bound", () => {
    const f = fakeChallenges(() => assert.fail("unreachable"));
    const t = setup(builtinRoutes(), f.host);
    const client = sock("client");
    const c = t.engine.open(client, info);
    t.engine.data(c, "client", acmeHello());
    for (let i = 0; i < 8; i++) t.engine.data(c, "client", new Uint8Array(16 * 1024));
    assert.equal(client.paused, true);
  });

  test("a validator that stalls mid-handshake is reset at the handshake deadline", () => {
    const f = fakeChallenges(() => assert.fail("unreachable"));
    const t = setup({ ...builtinRoutes(), helloTimeout: "3s" }, f.host);
    const client = sock("client");
    t.engine.data(t.engine.open(client, info), "client", acmeHello());
    t.tick(3000);
    assert.equal(client.closed, "reset");
    const r = onlyRecord(t);
    assert.deepEqual([r.outcome, r.end], ["challenge-failed", "handshake-timeout"]);
  });
});

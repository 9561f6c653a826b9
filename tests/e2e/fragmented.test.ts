/**
 * @module fragmented.test — ClientHellos that do not arrive in one read: 1-byte writes, a split
 * inside the SNI, the handshake message re-framed over several TLS records (even its 4-byte
 * header split across records), and post-quantum hellos (~1.5-1.9 KB) in two writes 50 ms apart
 * as they would arrive on a 1500-byte MTU. Each must reach the right backend (ACME, the SNI
 * route, or the default) and the backend must see exactly the bytes the client wrote.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type CaptureBackend, startCaptureBackend } from "../_harness/backends.ts";
import { rawExchange, splitAt } from "../_harness/clients.ts";
import { connLog, hello, reframe, startRouter } from "../_harness/e2e-kit.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("fragmented", after);
const SNI = Buffer.from("a.example.test");

let r: Awaited<ReturnType<typeof startRouter>>;
const be: Record<"acme" | "sni" | "default", CaptureBackend> = {} as never;

before(async () => {
  be.acme = await startCaptureBackend(ws);
  be.sni = await startCaptureBackend(ws);
  be.default = await startCaptureBackend(ws);
  r = await startRouter(ws, {
    acme: be.acme.port,
    helloTimeout: "5s",
    config: {
      routes: [
        {
          name: "sni-a",
          match: { sni: ["a.example.test"] },
          target: { upstream: `127.0.0.1:${be.sni.port}` },
        },
      ],
      default: { upstream: `127.0.0.1:${be.default.port}` },
    },
  });
});

/**
 * Writes `chunks` with `delayMs` between them, then FIN; returns which backend got the
 * connection and the exact bytes it received (the capture backend ends when we do).
 */
async function deliver(chunks: Buffer[], delayMs: number | number[]): Promise<{ who: string; data: Buffer }> {
  const counts = Object.fromEntries(Object.entries(be).map(([k, b]) => [k, b.connections.length]));
  const res = await rawExchange({ port: r.port, chunks, delayMs, endAfterWrite: true, timeoutMs: 8000 });
  assert.notEqual(res.end, "timeout", "the exchange did not finish");
  const fresh = Object.entries(be).filter(([k, b]) => b.connections.length > (counts[k] ?? 0));
  assert.equal(
    fresh.length,
    1,
    `backends that got a connection: ${fresh.map(([k]) => k).join(",") || "none"}`,
  );
  const [who, b] = fresh[0] as [string, CaptureBackend];
  assert.equal(b.connections.length, (counts[who] ?? 0) + 1);
  const data = await (b.connections.at(-1)?.ended as Promise<Buffer>);
  return { who, data };
}

describe("split hellos reach the right backend byte-exact", () => {
  test("1-byte writes every 2 ms (openssl acme hello, 337 bytes) → ACME", async () => {
    const h = hello("openssl-sni-acme");
    const bytes = [...h].map((b) => Buffer.from([b]));
    const t0 = Date.now();
    const got = await deliver(bytes, 2);
    assert.equal(got.who, "acme");
    assert.deepEqual(got.data, h);
    const l = await connLog(r, (c) => c.route === "acme");
    assert.equal(l.helloBytes, h.length);
    assert.ok(Date.now() - t0 > 600, "the writes really were spread out");
  });

  test("split inside the SNI and inside the record header, tail + CCS in the last write → SNI route", async () => {
    const h = hello("openssl-sni");
    const at = h.indexOf(SNI);
    assert.ok(at > 0);
    const ccs = Buffer.from("140303000101", "hex");
    const parts = splitAt(Buffer.concat([h, ccs]), [3, at + 5, at + 9]);
    const got = await deliver(parts, [30, 30, 30]);
    assert.equal(got.who, "sni");
    assert.deepEqual(got.data, Buffer.concat([h, ccs]));
  });

  test("hello re-framed into 4 records, each written 20 ms apart → SNI route", async () => {
    const one = hello("curl-http2");
    const multi = reframe(one, [40, 100, 150]);
    assert.equal(multi.length, one.length + 3 * 5);
    // Write record by record.
    const cuts: number[] = [];
    for (let off = 0; off < multi.length; ) {
      off += 5 + multi.readUInt16BE(off + 3);
      if (off < multi.length) cuts.push(off);
    }
    assert.equal(cuts.length, 3);
    const got = await deliver(splitAt(multi, cuts), 20);
    assert.equal(got.who, "sni");
    assert.deepEqual(got.data, multi);
    const l = await connLog(r, (c) => c.helloBytes === multi.length);
    assert.deepEqual(l.alpn, ["h2", "http/1.1"]);
  });

  test("handshake header split across records (2 + 3 + rest), one write → ACME", async () => {
    const multi = reframe(hello("go-pebble-va"), [2, 3]);
    const got = await deliver([multi], 0);
    assert.equal(got.who, "acme");
    assert.deepEqual(got.data, multi);
  });

  test("captured multi-record fixtures (pebble VA, chromium) → ACME / SNI route", async () => {
    const va = hello("go-pebble-va-multirecord");
    const g1 = await deliver(splitAt(va, [7, 100]), 10);
    assert.equal(g1.who, "acme");
    assert.deepEqual(g1.data, va);
    const ch = hello("chromium-multirecord");
    const g2 = await deliver([ch], 0);
    assert.equal(g2.who, "sni");
    assert.deepEqual(g2.data, ch);
  });

  test("post-quantum hellos in two writes 50 ms apart (split at 1448, one MSS)", async () => {
    const bun = hello("bun-connect-acme");
    assert.ok(bun.length > 1448);
    const g1 = await deliver(splitAt(bun, [1448]), 50);
    assert.equal(g1.who, "acme");
    assert.deepEqual(g1.data, bun);

    const chromium = hello("chromium");
    assert.ok(chromium.length > 1448);
    const g2 = await deliver(splitAt(chromium, [1448]), 50);
    assert.equal(g2.who, "sni");
    assert.deepEqual(g2.data, chromium);
    const l = await connLog(r, (c) => c.helloBytes === chromium.length);
    assert.equal(l.ech, true);
    assert.equal(l.sni, "a.example.test");
  });
});

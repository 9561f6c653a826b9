import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { buildHello, buildHelloMessage, frame } from "../testing/hello-builder.ts";
import { concat } from "./bytes.ts";
import { createSniffer, type SniffResult, sniffHello } from "./sniff.ts";

const hosts = fc.constantFrom("a.example", "www.example.com", "x--y.test", "1.0.0.127.in-addr.arpa");
const protos = fc.array(fc.constantFrom("h2", "http/1.1", "acme-tls/1", "spdy/3"), {
  minLength: 1,
  maxLength: 4,
});
const helloSpec = fc.record({
  sni: fc.option(hosts, { nil: null }),
  alpn: fc.option(protos, { nil: null }),
  shareSize: fc.integer({ min: 1, max: 2000 }),
  ech: fc.boolean(),
});

function build(spec: {
  sni: string | null;
  alpn: string[] | null;
  shareSize: number;
  ech: boolean;
}): Uint8Array {
  return buildHelloMessage({
    sni: spec.sni,
    alpn: spec.alpn,
    ech: spec.ech,
    keyShares: [
      { group: 0x11ec, size: spec.shareSize },
      { group: 0x001d, size: 32 },
    ],
  });
}

function summary(r: SniffResult) {
  if (r.kind !== "hello") return { kind: r.kind };
  const h = r.hello;
  return {
    kind: r.kind,
    sni: h.serverName,
    alpn: h.alpn,
    ech: h.ech,
    versions: h.supportedVersions,
    exts: h.extensions,
    shares: h.keyShares?.map((k) => [k.group, k.keyExchange.length]),
    message: Array.from(h.message),
  };
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, inside the array). */
function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

describe("sniffer properties", () => {
  test("every strict prefix of a valid hello gives need-more", () => {
    fc.assert(
      fc.property(helloSpec, fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 4 }), (spec, sizes) => {
        const bytes = frame(build(spec), sizes);
        for (let n = 0; n < bytes.length; n++) {
          const r = sniffHello(bytes.subarray(0, n));
          if (r.kind !== "need-more") return false;
        }
        return sniffHello(bytes).kind === "hello";
      }),
      { numRuns: 30 },
    );
  });

  test("every chunking of a valid hello gives the same result", () => {
    fc.assert(
      fc.property(helloSpec, fc.array(fc.nat(), { maxLength: 12 }), (spec, cuts) => {
        const bytes = frame(build(spec));
        const whole = summary(sniffHello(bytes));
        const s = createSniffer();
        let last: SniffResult = s.result;
        for (const c of chunks(bytes, cuts)) last = s.push(c);
        assert.deepEqual(summary(last), whole);
      }),
      { numRuns: 200 },
    );
  });

  test("every re-framing into N records gives the same hello", () => {
    fc.assert(
      fc.property(
        helloSpec,
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }),
        (spec, sizes) => {
          const msg = build(spec);
          const one = summary(sniffHello(frame(msg)));
          const many = summary(sniffHello(frame(msg, sizes)));
          assert.deepEqual(many, one);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("bytes after the hello never change the hello and stay in the prelude", () => {
    fc.assert(
      fc.property(helloSpec, fc.uint8Array({ maxLength: 64 }), (spec, tail) => {
        const hello = frame(build(spec));
        const r = sniffHello(concat(hello, tail));
        assert.equal(r.kind, "hello");
        if (r.kind === "hello") {
          assert.equal(r.helloBytes, hello.length);
          assert.equal(r.prelude.length, hello.length + tail.length);
        }
      }),
      { numRuns: 100 },
    );
  });

  test("random input ends only in need-more, not-tls, invalid or too-large", () => {
    const kinds = new Set(["need-more", "not-tls", "invalid", "too-large", "hello"]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        assert.ok(kinds.has(sniffHello(bytes).kind));
      }),
      { numRuns: 2000 },
    );
  });

  test("random input behind a TLS handshake record header never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), (body) => {
        const bytes = concat([22, 3, 1, body.length >> 8, body.length & 255, 1], body);
        const r = sniffHello(bytes);
        assert.ok(r.kind !== "hello" || r.hello.message.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  test("bit-flipped valid hellos end in a known result, never an exception", () => {
    fc.assert(
      fc.property(
        helloSpec,
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.nat(7),
        (spec, positions, bit) => {
          const bytes = Uint8Array.from(buildHello({ sni: spec.sni, alpn: spec.alpn }));
          for (const p of positions) bytes[p % bytes.length]! ^= 1 << bit;
          const r = sniffHello(bytes);
          assert.ok(["need-more", "not-tls", "invalid", "too-large", "hello"].includes(r.kind));
          if (r.kind === "invalid") assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

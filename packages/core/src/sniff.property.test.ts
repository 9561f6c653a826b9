import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ascii, buildHello, buildHelloMessage, frame, u16, vec } from "../testing/hello-builder.ts";
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
  if (r.kind === "invalid" || r.kind === "too-large") return { kind: r.kind, code: r.error.code };
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

/** Host names for SNI bodies: valid ones, names the rule refuses, and junk. */
const names = fc.oneof(
  fc.constantFrom("a.example", "A_B.example", "-x.example", "", "x..y", "a.", ".a", "a b", "a\0b", "\xff"),
  fc.constantFrom(`${"a".repeat(64)}.x`, `${"a.".repeat(127)}ab`),
  fc.stringMatching(/^[a-z0-9_.*-]{1,70}$/),
  fc.string({ maxLength: 8 }),
);
const u16s = fc.array(fc.constantFrom(0x0a0a, 0x0304, 0x0303, 0x001d, 0x11ec, 0x0403), { maxLength: 4 });
const bytes12 = fc.uint8Array({ maxLength: 12 });

/**
 * A body for each extension the parser reads, built by its RFC shape (so it gets past the first
 * length check and reaches every branch), then sometimes damaged: a bit flipped, a byte cut or
 * added.
 */
function extensionBody(type: number): fc.Arbitrary<Uint8Array> {
  const shaped: Record<number, fc.Arbitrary<Uint8Array>> = {
    0: fc
      .array(fc.tuple(fc.constantFrom(0, 0, 1), names), { maxLength: 3 })
      .map((e) => vec(2, concat(...e.map(([t, n]) => concat([t], vec(2, ascii(n))))))),
    16: fc
      .array(fc.oneof(fc.constantFrom("h2", "acme-tls/1", "", "\x0a\x0a"), fc.string({ maxLength: 4 })), {
        maxLength: 4,
      })
      .map((ps) => vec(2, concat(...ps.map((p) => vec(1, ascii(p)))))),
    43: u16s.map((v) => vec(1, v.flatMap(u16))),
    10: u16s.map((v) => vec(2, v.flatMap(u16))),
    13: u16s.map((v) => vec(2, v.flatMap(u16))),
    45: bytes12.map((b) => vec(1, b)),
    51: fc
      .array(fc.tuple(fc.constantFrom(0x001d, 0x0a0a, 0x11ec), bytes12), { maxLength: 3 })
      .map((e) => vec(2, concat(...e.map(([g, k]) => concat(u16(g), vec(2, k)))))),
    42: fc.constant(new Uint8Array(0)),
  };
  const good = shaped[type] ?? bytes12;
  return fc.tuple(good, fc.nat(3), fc.nat(), fc.nat(7)).map(([b, how, at, bit]) => {
    if (how === 3) return concat(b, [at & 255]);
    if (how === 0 || b.length === 0) return b;
    const i = at % b.length;
    return how === 1 ? Uint8Array.from(b, (x, j) => (j === i ? x ^ (1 << bit) : x)) : b.subarray(0, i);
  });
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

  test("random input ends only in the kinds its first bytes allow, never internal", () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      // Mostly record-shaped: a handshake (or other) content type and a 3.x version.
      fc
        .tuple(fc.constantFrom(22, 22, 22, 21, 23, 0x80), fc.uint8Array({ maxLength: 3000 }))
        .map(([t, rest]) => concat([t, 3], rest)),
    );
    fc.assert(
      fc.property(input, (bytes) => expectAllowed(sniffHello(bytes), bytes)),
      { numRuns: 3000 },
    );
  });

  test("random input behind a TLS handshake record header: never not-tls, never internal", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), (body) => {
        const bytes = concat([22, 3, 1, body.length >> 8, body.length & 255, 1], body);
        const r = sniffHello(bytes);
        expectAllowed(r, bytes);
        assert.ok(r.kind !== "hello" || r.hello.message.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  test("random bodies for every extension the parser reads: hello or invalid, never internal", () => {
    const handled = [0, 10, 13, 16, 41, 42, 43, 45, 51, 0xfe0d];
    const other = concat(u16(0x1234), u16(0)); // an unknown, empty extension
    fc.assert(
      fc.property(
        fc.constantFrom(...handled).chain((t) => fc.tuple(fc.constant(t), extensionBody(t))),
        fc.nat(2),
        fc.nat(4),
        ([type, data], where, split) => {
          const e = concat(u16(type), vec(2, data));
          const list = where === 0 ? [e] : where === 1 ? [other, e] : [e, other];
          // The random extension is the only one of its type, so its body is what gets parsed.
          const msg = buildHelloMessage({ noExtensions: true, trailing: vec(2, concat(...list)) });
          const bytes = frame(msg, split ? [split * 17 + 1] : []);
          const r = sniffHello(bytes);
          expectAllowed(r, bytes);
          assert.ok(r.kind === "hello" || r.kind === "invalid", r.kind);
        },
      ),
      { numRuns: 5000 },
    );
  });

  test("bit-flipped valid hellos end in the kinds their first bytes allow, never internal", () => {
    fc.assert(
      fc.property(
        helloSpec,
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.nat(7),
        (spec, positions, bit) => {
          const bytes = Uint8Array.from(buildHello({ sni: spec.sni, alpn: spec.alpn }));
          for (const p of positions) bytes[p % bytes.length]! ^= 1 << bit;
          expectAllowed(sniffHello(bytes), bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

type Kind = SniffResult["kind"];

/**
 * The result kinds possible for a first flight, from its first bytes alone (the sniffer's
 * classification rules): anything else, or the `internal` code, is a bug.
 */
function allowedKinds(bytes: Uint8Array): readonly Kind[] {
  if (bytes.length === 0) return ["need-more"];
  const first = bytes[0] as number;
  if (first === 22) return ["need-more", "hello", "invalid", "too-large"];
  // SSL 2.0-compatible CLIENT-HELLO (top bit set, message type 1 at byte 2) is refused.
  if (first & 0x80) return bytes.length < 3 ? ["need-more"] : bytes[2] === 1 ? ["invalid"] : ["not-tls"];
  return ["not-tls"];
}

function expectAllowed(r: SniffResult, bytes: Uint8Array): void {
  const allowed = allowedKinds(bytes);
  if (r.kind === "invalid" || r.kind === "too-large") {
    assert.notEqual(r.error.code, "internal", `internal error path taken: ${r.error.message}`);
    assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length, `offset ${r.error.offset}`);
    assert.equal(r.kind === "too-large", r.error.code === "too-large");
    assert.match(r.error.message, /^Cannot parse ClientHello: /);
  }
  assert.ok(
    allowed.includes(r.kind),
    `${r.kind} for input starting ${[...bytes.subarray(0, 6)]}; allowed ${allowed}`,
  );
  if (r.kind !== "need-more") assert.equal(r.prelude.length, bytes.length, "the prelude keeps every byte");
}

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { encodeValue } from "../../testing/fake-redis.ts";
import { encodeCommand, RedisError, RespDecoder, type RespValue } from "./resp.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const decodeAll = (bytes: Uint8Array, d = new RespDecoder()) => d.push(bytes);

const line = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s));
const value: fc.Arbitrary<RespValue> = fc.letrec<{ v: RespValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    line,
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.uint8Array({ maxLength: 40 }),
    fc.constant(null),
    line.map((m) => new RedisError("server", m)),
    fc.array(tie("v"), { maxLength: 4 }),
  ),
})).v;

/** RedisError values compare by message. */
const plain = (v: RespValue): unknown =>
  v instanceof RedisError ? { error: v.message } : Array.isArray(v) ? v.map(plain) : v;

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  return out;
}

describe("encodeCommand()", () => {
  test("writes an array of bulk strings", () => {
    assert.equal(
      new TextDecoder().decode(encodeCommand(["SET", "k", "välue", new Uint8Array([0, 13, 10])])),
      "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvälue\r\n$3\r\n\0\r\n\r\n",
    );
  });

  test("property: encodeCommand → decode gives the argument bytes back", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.uint8Array()), { maxLength: 8 }), (args) => {
        const [v] = decodeAll(encodeCommand(args));
        assert.deepEqual(
          v,
          args.map((a) => (typeof a === "string" ? enc(a) : Uint8Array.from(a))),
        );
      }),
    );
  });
});

describe("RespDecoder", () => {
  test("decodes each RESP2 type", () => {
    const vs = decodeAll(
      enc("+OK\r\n-ERR bad\r\n:-42\r\n$0\r\n\r\n$-1\r\n*-1\r\n*2\r\n*1\r\n:1\r\n$1\r\nx\r\n"),
    );
    assert.deepEqual(vs.map(plain), [
      "OK",
      { error: "ERR bad" },
      -42,
      new Uint8Array(0),
      null,
      null,
      [[1], enc("x")],
    ]);
    assert.equal((vs[1] as RedisError).code, "server");
  });

  test("property: encodeValue → decode round-trips, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (vs, cuts) => {
          const wire = Uint8Array.from(vs.flatMap((v) => [...encodeValue(v)]));
          const d = new RespDecoder();
          const got = splitAt(wire, cuts).flatMap((c) => d.push(c));
          assert.deepEqual(got.map(plain), vs.map(plain));
          assert.equal(d.buffered, 0);
        },
      ),
    );
  });

  test("byte-by-byte input gives the same values; a strict prefix gives fewer", () => {
    const wire = enc("*3\r\n$5\r\nhello\r\n:7\r\n+OK\r\n$3\r\nabc\r\n");
    const d = new RespDecoder();
    const got: RespValue[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...d.push(wire.subarray(i, i + 1)));
    assert.deepEqual(got, [[enc("hello"), 7, "OK"], enc("abc")]);
    // The first value is 24 bytes: every strict prefix of it gives nothing, of the rest one value.
    for (let n = 0; n < wire.length; n++) {
      assert.equal(new RespDecoder().push(wire.subarray(0, n)).length, n < 24 ? 0 : 1, `prefix ${n}`);
    }
  });

  const bad: [string, string, RegExp][] = [
    ["unknown type byte (RESP3 map)", "%1\r\n", /unknown type byte 0x25/],
    ["LF without CR", "+OK\n", /LF without CR/],
    ["CR without LF", "+OK\rX", /CR without LF/],
    ["integer with a plus sign", ":+1\r\n", /bad integer/],
    ["integer with leading zero", ":01\r\n", /bad integer/],
    ["integer beyond 2^53", ":9007199254740993\r\n", /bad integer/],
    ["bulk length -2", "$-2\r\n", /bulk length -2/],
    ["bulk without CRLF", "$1\r\nab\r\n", /without CRLF/],
    ["bulk over the cap", "$67108865\r\n", /exceeds 67108864/],
    ["array over the cap", "*1048577\r\n", /exceeds 1048576/],
    ["nesting too deep", "*1\r\n".repeat(17), /nested deeper than 16/],
  ];
  for (const [name, input, re] of bad) {
    test(`rejects ${name} with a protocol error`, () => {
      const d = new RespDecoder();
      assert.throws(
        () => d.push(enc(input)),
        (e: unknown) => e instanceof RedisError && e.code === "protocol" && re.test(e.message),
      );
      // The decoder stays failed.
      assert.throws(() => d.push(enc("+OK\r\n")), RedisError);
    });
  }

  test("a line longer than the cap without CRLF fails before it is complete", () => {
    const d = new RespDecoder({ maxLineBytes: 16 });
    assert.deepEqual(d.push(enc("+0123456789")), []);
    assert.throws(() => d.push(enc("0123456789")), /line longer than 16 bytes/);
  });

  test("a large bulk string arriving in many chunks is assembled once", () => {
    const payload = new Uint8Array(1 << 20).fill(97);
    const wire = encodeValue(payload);
    const d = new RespDecoder();
    const got: RespValue[] = [];
    for (let i = 0; i < wire.length; i += 1000) got.push(...d.push(wire.subarray(i, i + 1000)));
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], payload);
  });

  test("fuzz: random bytes only ever give values, nothing, or a protocol error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          new RespDecoder().push(b);
        } catch (e) {
          assert.ok(e instanceof RedisError && e.code === "protocol", String(e));
        }
      }),
    );
  });
});

/**
 * The fast path must agree with the checked parser: on every message it accepts, the same
 * hello; it takes every golden hello and every built one; mutated messages it does not accept
 * go to the checked parser.
 *
 * @module clienthello-fast.test
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { alpnBody, buildHelloMessage, ext, sniBody } from "../testing/hello-builder.ts";
import { parseClientHello, parseClientHelloChecked } from "./clienthello.ts";
import { parseClientHelloFast } from "./clienthello-fast.ts";
import { sniffHello } from "./sniff.ts";

/** The checked parser's verdict: the hello, or the error code. */
function checked(m: Uint8Array) {
  try {
    return parseClientHelloChecked(m);
  } catch (e) {
    return (e as { code: string }).code;
  }
}

function agree(m: Uint8Array): boolean {
  const fast = parseClientHelloFast(m);
  if (fast === null) return false;
  assert.deepEqual(fast, checked(m));
  return true;
}

const dir = new URL("./_testdata/hellos/", import.meta.url);
const golden = readdirSync(dir)
  .filter((f) => f.endsWith(".bin"))
  .map((f) => {
    const r = sniffHello(new Uint8Array(readFileSync(new URL(f, dir))));
    assert.equal(r.kind, "hello", f);
    return { name: f, message: r.kind === "hello" ? r.hello.message : new Uint8Array(0) };
  });

const spec = fc.record({
  sni: fc.option(fc.constantFrom("a.example", "WWW.Example.COM", "x_y.test"), { nil: null }),
  alpn: fc.option(fc.array(fc.constantFrom("h2", "http/1.1", "acme-tls/1"), { minLength: 1, maxLength: 3 }), {
    nil: null,
  }),
  ech: fc.boolean(),
  share: fc.integer({ min: 1, max: 1300 }),
});

describe("parseClientHelloFast", () => {
  test("takes every golden hello and builds what the checked parser builds", () => {
    assert.ok(golden.length >= 10);
    for (const g of golden) assert.ok(agree(g.message), g.name);
  });

  test("takes built hellos (upper-case SNI, GREASE, early data, PSK last)", () => {
    fc.assert(
      fc.property(spec, (s) => {
        const m = buildHelloMessage({
          sni: s.sni,
          alpn: s.alpn,
          ech: s.ech,
          keyShares: [
            { group: 0x0a0a, size: 1 },
            { group: 0x001d, size: s.share },
          ],
          cipherSuites: [0x2a2a, 0x1301, 0x1303],
          after: [ext(0x1a1a, []), ext(45, [1, 1]), ext(42, []), ext(41, [0, 0])],
        });
        assert.ok(agree(m));
        assert.equal(parseClientHello(m).serverName, s.sni === null ? null : s.sni.toLowerCase());
      }),
    );
  });

  test("mutated hellos: accepted only when the checked parser gives the same hello", () => {
    const base = [...golden.map((g) => g.message), buildHelloMessage({ sni: "a.example", alpn: ["h2"] })];
    fc.assert(
      fc.property(
        fc.constantFrom(...base),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (m, edits, cut) => {
          const b = m.slice(0, m.length - (cut % 4 === 0 ? cut % 7 : 0));
          for (const [at, v] of edits) b[at % b.length] = v;
          agree(b);
          // parseClientHello is the fast path, else the checked parser: the same verdict.
          let viaMain: unknown;
          try {
            viaMain = parseClientHello(b);
          } catch (e) {
            viaMain = (e as { code: string }).code;
          }
          assert.deepEqual(viaMain, checked(b));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("gives up on what the checked parser refuses", () => {
    const dupSni = buildHelloMessage({
      sni: null,
      after: [ext(0, sniBody("a.example")), ext(0, sniBody("b.example"))],
    });
    const emptyAlpn = buildHelloMessage({ sni: "a.example", alpn: null, after: [ext(16, alpnBody(""))] });
    const badHost = buildHelloMessage({ sni: "a..example" });
    const pskFirst = buildHelloMessage({ sni: "a.example", after: [ext(41, [0, 0]), ext(42, [])] });
    for (const m of [dupSni, emptyAlpn, badHost, pskFirst]) {
      assert.equal(parseClientHelloFast(m), null);
      assert.equal(typeof checked(m), "string");
    }
    assert.ok(agree(buildHelloMessage({ noExtensions: true })));
    // The bits of the first call are cleared: the same hello parses again.
    assert.ok(agree(buildHelloMessage({ sni: "a.example" })));
  });
});

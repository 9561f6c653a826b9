/**
 * Golden ClientHellos captured from real clients (`_testdata/hellos/NAME.bin`), checked against
 * the fields tshark decoded from the same bytes (`NAME.json`). Regenerate both with
 * `node scripts/capture-hellos.mjs`; see `_testdata/hellos/README.md`.
 *
 * @module clienthello.golden.test
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { ClientHello } from "./clienthello-types.ts";
import { createSniffer, type SniffResult } from "./sniff.ts";

/** The sidecar written by scripts/capture-hellos.mjs (fields decoded by tshark, GREASE removed). */
interface Golden {
  readonly client: string;
  readonly command: string;
  readonly sni: string | null;
  readonly alpn: readonly string[] | null;
  readonly legacyVersion: number;
  readonly supportedVersions: readonly number[] | null;
  readonly extensions: readonly number[];
  readonly keyShareGroups: readonly number[] | null;
  readonly cipherSuites: readonly number[];
  readonly ech: boolean;
  readonly records: number;
  readonly bytes: number;
}

const DIR = new URL("./_testdata/hellos/", import.meta.url);
const names = readdirSync(DIR)
  .filter((f) => f.endsWith(".bin"))
  .map((f) => f.slice(0, -".bin".length))
  .sort();

function load(name: string): { bin: Uint8Array; golden: Golden } {
  // Copy into a plain Uint8Array: Node/Bun return a Buffer, which deepEqual treats as another type.
  const bin = new Uint8Array(readFileSync(new URL(`${name}.bin`, DIR)));
  const golden = JSON.parse(readFileSync(new URL(`${name}.json`, DIR), "utf8")) as Golden;
  return { bin, golden };
}

function expectHello(r: SniffResult, what: string) {
  assert.equal(r.kind, "hello", `${what}: ${r.kind === "invalid" ? r.error.message : r.kind}`);
  if (r.kind !== "hello") throw new Error("unreachable");
  return r;
}

/** The fields the sidecar describes, read from our parser's output in the sidecar's shape. */
function fieldsOf(h: ClientHello) {
  return {
    sni: h.serverName,
    alpn: h.alpn === null ? null : [...h.alpn],
    legacyVersion: h.legacyVersion,
    supportedVersions: h.supportedVersions === null ? null : [...h.supportedVersions],
    extensions: [...h.extensions],
    keyShareGroups: h.keyShares === null ? null : h.keyShares.map((k) => k.group),
    cipherSuites: [...h.cipherSuites],
    ech: h.ech,
  };
}

function expectedOf(g: Golden) {
  return {
    sni: g.sni,
    alpn: g.alpn === null ? null : [...g.alpn],
    legacyVersion: g.legacyVersion,
    supportedVersions: g.supportedVersions === null ? null : [...g.supportedVersions],
    extensions: [...g.extensions],
    keyShareGroups: g.keyShareGroups === null ? null : [...g.keyShareGroups],
    cipherSuites: [...g.cipherSuites],
    ech: g.ech,
  };
}

describe("golden ClientHellos from real clients", () => {
  test("the fixture set covers the cases the router depends on", () => {
    assert.ok(names.length >= 10, `only ${names.length} fixtures`);
    const all = names.map((n) => ({ n, g: load(n).golden }));
    const some = (what: string, p: (g: Golden) => boolean) =>
      assert.ok(
        all.some(({ g }) => p(g)),
        `no fixture with ${what}`,
      );
    some("no SNI", (g) => g.sni === null);
    some("TLS 1.2 only (no supported_versions)", (g) => g.supportedVersions === null);
    some('ALPN exactly ["acme-tls/1"]', (g) => g.alpn?.length === 1 && g.alpn[0] === "acme-tls/1");
    some(
      "a post-quantum key share over 1.5 KB",
      (g) => g.bytes > 1400 && (g.keyShareGroups ?? []).includes(0x11ec),
    );
    some("ECH (GREASE)", (g) => g.ech);
    some("several records", (g) => g.records > 1);
    for (const { n, g } of all) {
      assert.ok(typeof g.client === "string" && g.client.length > 0, `${n}: client`);
    }
  });

  for (const name of names) {
    describe(name, () => {
      const { bin, golden } = load(name);

      test("one push gives the fields tshark decoded", () => {
        const r = expectHello(createSniffer().push(bin), name);
        assert.deepEqual(fieldsOf(r.hello), expectedOf(golden));
        assert.equal(r.records, golden.records, "records");
        assert.equal(r.helloBytes, golden.bytes, "helloBytes");
        assert.equal(bin.length, golden.bytes, "file length");
        assert.equal(r.prelude.length, bin.length, "prelude");
        assert.deepEqual(new Uint8Array(r.prelude), bin, "prelude bytes");
      });

      test("one byte at a time gives the same hello", () => {
        const s = createSniffer();
        for (let i = 0; i < bin.length - 1; i++) {
          const r = s.push(bin.subarray(i, i + 1));
          assert.equal(r.kind, "need-more", `after ${i + 1} of ${bin.length} bytes`);
        }
        const r = expectHello(s.push(bin.subarray(bin.length - 1)), `${name} bytewise`);
        assert.deepEqual(fieldsOf(r.hello), expectedOf(golden));
        assert.equal(r.records, golden.records, "records");
        assert.equal(r.helloBytes, golden.bytes, "helloBytes");
      });

      test("bytes after the hello stay in the prelude and do not move its end", () => {
        // A TLS 1.3 middlebox-compat client may send a dummy ChangeCipherSpec in the same read.
        const ccs = new Uint8Array([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        const both = new Uint8Array(bin.length + ccs.length);
        both.set(bin);
        both.set(ccs, bin.length);
        const r = expectHello(createSniffer().push(both), `${name} + CCS`);
        assert.equal(r.helloBytes, golden.bytes, "helloBytes");
        assert.equal(r.prelude.length, both.length, "prelude");
        assert.deepEqual(fieldsOf(r.hello), expectedOf(golden));
      });
    });
  }

  for (const name of names.filter((n) => n.endsWith("-multirecord"))) {
    const source = name.slice(0, -"-multirecord".length);
    test(`${name} has the same fields as ${source}`, () => {
      assert.ok(names.includes(source), `missing ${source}.bin`);
      const multi = load(name);
      const single = load(source);
      assert.ok(multi.golden.records > 1, "records");
      assert.deepEqual(expectedOf(multi.golden), expectedOf(single.golden), "sidecars");
      const a = expectHello(createSniffer().push(multi.bin), name);
      const b = expectHello(createSniffer().push(single.bin), source);
      assert.deepEqual(fieldsOf(a.hello), fieldsOf(b.hello));
      // The reassembled handshake message is the same bytes.
      assert.deepEqual(new Uint8Array(a.hello.message), new Uint8Array(b.hello.message));
      assert.equal(a.records, multi.golden.records);
      assert.equal(b.records, 1);
    });
  }
});

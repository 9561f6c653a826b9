import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  alpnBody,
  ascii,
  buildHello,
  buildHelloMessage,
  ext,
  frame,
  sniBody,
  u16,
  vec,
} from "../testing/hello-builder.ts";
import { concat } from "./bytes.ts";
import type { ClientHelloErrorCode } from "./errors.ts";
import { createSniffer, type SniffResult, sniffHello } from "./sniff.ts";

function expectHello(r: SniffResult) {
  assert.equal(r.kind, "hello", r.kind === "invalid" ? r.error.message : r.kind);
  if (r.kind !== "hello") throw new Error("unreachable");
  return r;
}

function expectInvalid(bytes: Uint8Array, code: ClientHelloErrorCode): void {
  const r = sniffHello(bytes);
  assert.equal(r.kind, "invalid", `expected invalid ${code}, got ${r.kind}`);
  if (r.kind !== "invalid") return;
  assert.equal(r.error.code, code, r.error.message);
  assert.match(r.error.message, /^Cannot parse ClientHello: /);
  assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length, `offset ${r.error.offset}`);
  assert.equal(r.prelude.length, bytes.length, "the prelude keeps every byte");
}

describe("sniffHello() reads well-formed hellos", () => {
  test("extracts SNI (lower-cased), ALPN in order, versions, key shares", () => {
    const bytes = buildHello({
      sni: "WWW.Example.COM",
      alpn: ["h2", "acme-tls/1"],
      keyShares: [
        { group: 0x11ec, size: 1216 },
        { group: 0x001d, size: 32 },
      ],
    });
    const r = expectHello(sniffHello(bytes));
    assert.equal(r.hello.serverName, "www.example.com");
    assert.deepEqual(r.hello.alpn, ["h2", "acme-tls/1"]);
    assert.deepEqual(r.hello.supportedVersions, [0x0304, 0x0303]);
    assert.deepEqual(
      r.hello.keyShares?.map((k) => [k.group, k.keyExchange.length]),
      [
        [0x11ec, 1216],
        [0x001d, 32],
      ],
    );
    assert.equal(r.records, 1);
    assert.equal(r.helloBytes, bytes.length);
    assert.equal(r.hello.ech, false);
  });

  test("leaves GREASE out of every list", () => {
    const bytes = buildHello({
      cipherSuites: [0x0a0a, 0x1301],
      versions: [0x2a2a, 0x0304],
      groups: [0x3a3a, 0x001d],
      keyShares: [
        { group: 0x3a3a, size: 1 },
        { group: 0x001d, size: 32 },
      ],
      alpn: ["\x5a\x5a", "h2"],
      before: [ext(0x4a4a, [])],
      after: [ext(0xfafa, [0])],
    });
    const h = expectHello(sniffHello(bytes)).hello;
    assert.deepEqual(h.cipherSuites, [0x1301]);
    assert.deepEqual(h.supportedVersions, [0x0304]);
    assert.deepEqual(h.supportedGroups, [0x001d]);
    assert.deepEqual(
      h.keyShares?.map((k) => k.group),
      [0x001d],
    );
    assert.deepEqual(h.alpn, ["h2"]);
    assert.deepEqual(h.extensions, [0, 16, 43, 10, 13, 51]);
  });

  test("reports ECH (0xfe0d) and routes by the outer SNI", () => {
    const h = expectHello(sniffHello(buildHello({ ech: true, sni: "public.example" }))).hello;
    assert.equal(h.ech, true);
    assert.equal(h.serverName, "public.example");
  });

  test("accepts a hello without SNI and without ALPN", () => {
    const h = expectHello(sniffHello(buildHello({ sni: null, alpn: null }))).hello;
    assert.equal(h.serverName, null);
    assert.equal(h.alpn, null);
  });

  test("accepts a hello with no extensions block (TLS 1.0-1.2)", () => {
    const h = expectHello(sniffHello(buildHello({ noExtensions: true }))).hello;
    assert.deepEqual(h.extensions, []);
    assert.equal(h.supportedVersions, null);
  });

  test("skips server_name entries of unknown name types", () => {
    const body = vec(2, concat([1], vec(2, ascii("x")), [0], vec(2, ascii("a.example"))));
    const h = expectHello(sniffHello(buildHello({ sni: null, before: [ext(0, body)] }))).hello;
    assert.equal(h.serverName, "a.example");
  });

  test("reassembles a hello spread over several records", () => {
    const msg = buildHelloMessage({ sni: "multi.example" });
    const bytes = frame(msg, [3, 10, 1, 50]);
    const r = expectHello(sniffHello(bytes));
    assert.equal(r.records, 5);
    assert.equal(r.hello.serverName, "multi.example");
    assert.deepEqual(r.hello.message, msg);
  });

  test("stops at the end of the hello: a ChangeCipherSpec and early data stay in the prelude", () => {
    const hello = buildHello();
    const ccs = Uint8Array.from([20, 3, 3, 0, 1, 1]);
    const early = Uint8Array.from([23, 3, 3, 0, 3, 9, 9, 9]);
    const bytes = concat(hello, ccs, early);
    const r = expectHello(sniffHello(bytes));
    assert.equal(r.helloBytes, hello.length);
    assert.deepEqual(r.prelude, bytes);
  });

  test("copies its input: later changes to the caller's buffer do not leak in", () => {
    const bytes = buildHello({ sni: "copy.example" });
    const s = createSniffer();
    const r = expectHello(s.push(bytes));
    bytes.fill(0);
    assert.equal(r.hello.serverName, "copy.example");
    assert.notEqual(r.prelude[0], 0);
  });

  test("keeps bytes pushed after the final result", () => {
    const hello = buildHello();
    const s = createSniffer();
    expectHello(s.push(hello));
    const r = expectHello(s.push(Uint8Array.from([1, 2, 3])));
    assert.equal(r.prelude.length, hello.length + 3);
  });

  test("1-byte pushes give need-more until the last byte", () => {
    const bytes = buildHello({ sni: "slow.example" });
    const s = createSniffer();
    for (let i = 0; i < bytes.length - 1; i++) {
      assert.equal(s.push(bytes.subarray(i, i + 1)).kind, "need-more", `byte ${i}`);
    }
    assert.equal(expectHello(s.push(bytes.subarray(bytes.length - 1))).hello.serverName, "slow.example");
  });
});

describe("sniffHello() classifies other protocols", () => {
  test("plain HTTP is not-tls", () => {
    const r = sniffHello(ascii("GET / HTTP/1.1\r\n"));
    assert.equal(r.kind, "not-tls");
  });
  test("an empty push is need-more", () => {
    assert.equal(sniffHello(new Uint8Array(0)).kind, "need-more");
  });
  test("a PROXY v2 signature is not-tls", () => {
    assert.equal(sniffHello(Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a])).kind, "not-tls");
  });
});

describe("sniffHello() rejects, each with its own code", () => {
  const ok = buildHelloMessage();
  test("sslv2-hello: SSL 2.0-compatible CLIENT-HELLO", () => {
    expectInvalid(Uint8Array.from([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15]), "sslv2-hello");
  });
  test("bad-record-version: record major version is not 3", () => {
    expectInvalid(Uint8Array.from([22, 2, 0, 0, 5]), "bad-record-version");
  });
  test("record-overflow: record length over 2^14", () => {
    expectInvalid(Uint8Array.from([22, 3, 1, 0x40, 0x01]), "record-overflow");
  });
  test("empty-record: zero-length handshake record", () => {
    expectInvalid(Uint8Array.from([22, 3, 1, 0, 0]), "empty-record");
  });
  test("interleaved-record: an alert between hello fragments", () => {
    const parts = frame(ok, [10]);
    const first = parts.subarray(0, 15);
    expectInvalid(concat(first, [21, 3, 3, 0, 2, 2, 40]), "interleaved-record");
  });
  test("not-client-hello: a ServerHello", () => {
    const msg = Uint8Array.from(ok);
    msg[0] = 2;
    expectInvalid(frame(msg), "not-client-hello");
  });
  test("not-client-hello: decided from the first 4 bytes, before the rest arrives", () => {
    expectInvalid(Uint8Array.from([22, 3, 1, 0, 100, 2, 0, 0, 96]), "not-client-hello");
  });
  test("too-many-records: hello in 1-byte records over an explicit record cap", () => {
    const bytes = frame(ok, new Array(40).fill(1));
    const r = createSniffer({ maxRecords: 16 }).push(bytes);
    assert.equal(r.kind, "invalid");
    if (r.kind === "invalid") assert.equal(r.error.code, "too-many-records");
    assert.equal(createSniffer({ maxRecords: 41 }).push(bytes).kind, "hello");
  });
  test("truncated: a vector runs past the end of the hello", () => {
    const body = concat(u16(0x0303), new Uint8Array(32), [40]); // session id says 40 bytes
    expectInvalid(frame(concat([1], vec(3, body))), "truncated");
  });
  test("bad-session-id: legacy_session_id longer than 32", () => {
    expectInvalid(buildHello({ sessionId: new Uint8Array(33) }), "bad-session-id");
  });
  test("trailing-data: bytes after the extensions block", () => {
    expectInvalid(buildHello({ trailing: Uint8Array.from([0]) }), "trailing-data");
  });
  test("trailing-data: inside an extension", () => {
    expectInvalid(buildHello({ alpn: null, after: [ext(16, concat(alpnBody("h2"), [0]))] }), "trailing-data");
  });
  test("trailing-data: another handshake message after the hello in the same record", () => {
    expectInvalid(frame(concat(ok, [20, 0, 0, 0])), "trailing-data");
  });
  test("duplicate-extension", () => {
    expectInvalid(buildHello({ after: [ext(16, alpnBody("h2"))] }), "duplicate-extension");
  });
  test("empty-alpn-list", () => {
    expectInvalid(buildHello({ alpn: null, after: [ext(16, [0, 0])] }), "empty-alpn-list");
  });
  test("empty-alpn-protocol", () => {
    expectInvalid(buildHello({ alpn: ["h2", ""] }), "empty-alpn-protocol");
  });
  test("empty-server-name-list", () => {
    expectInvalid(buildHello({ sni: null, before: [ext(0, [0, 0])] }), "empty-server-name-list");
  });
  test("multiple-host-names", () => {
    expectInvalid(
      buildHello({ sni: null, before: [ext(0, sniBody("a.example", "b.example"))] }),
      "multiple-host-names",
    );
  });
  test("empty-server-name", () => {
    expectInvalid(buildHello({ sni: "" }), "empty-server-name");
  });
  test("server-name-too-long: over 253 bytes", () => {
    expectInvalid(
      buildHello({ sni: `${"a".repeat(60)}.`.repeat(4) + "abcdefghijklmn" }),
      "server-name-too-long",
    );
  });
  test("server-name-too-long: a label over 63 bytes", () => {
    expectInvalid(buildHello({ sni: `${"a".repeat(64)}.example` }), "server-name-too-long");
  });
  test("server-name-trailing-dot", () => {
    expectInvalid(buildHello({ sni: "example.com." }), "server-name-trailing-dot");
  });
  test("server-name-bad-character: space, NUL, control bytes, DEL, high bytes", () => {
    for (const name of ["a b.example", "a\0.example", "a\x01.example", "a\x7f.example", "caf\xe9.example"]) {
      expectInvalid(buildHello({ sni: name }), "server-name-bad-character");
    }
  });
  test("server-name-bad-character: the offset is the bad byte in the stream", () => {
    const bytes = buildHello({ sni: "ab\0.example" });
    const r = sniffHello(bytes);
    assert.equal(r.kind === "invalid" && bytes[r.error.offset], 0);
  });
  test("error offsets point into the stream across many records (1-byte records)", () => {
    const msg = buildHelloMessage({ sni: "ab\0.example" });
    for (const sizes of [[], new Array(msg.length).fill(1), [7, 1, 30, 2]]) {
      const bytes = frame(msg, sizes);
      const r = sniffHello(bytes);
      assert.equal(r.kind, "invalid");
      if (r.kind !== "invalid") continue;
      assert.equal(r.error.code, "server-name-bad-character");
      assert.equal(bytes[r.error.offset], 0, `offset ${r.error.offset} with ${sizes.length} cuts`);
      // The byte before is "b", in the previous 1-byte record when split finely.
      const before = sizes.length > 100 ? r.error.offset - 6 : r.error.offset - 1;
      assert.equal(bytes[before], 0x62);
    }
  });
  test("server-name-empty-label: a..example, .example", () => {
    for (const name of ["a..example", ".example"]) {
      expectInvalid(buildHello({ sni: name }), "server-name-empty-label");
    }
  });
  test("empty-list: no cipher suites", () => {
    expectInvalid(buildHello({ cipherSuites: [] }), "empty-list");
  });
  test("empty-list: no compression methods", () => {
    expectInvalid(buildHello({ compression: [] }), "empty-list");
  });
  test("empty-list: empty supported_versions", () => {
    expectInvalid(buildHello({ versions: [] }), "empty-list");
  });
  test("empty-key-exchange", () => {
    expectInvalid(buildHello({ keyShares: [{ group: 0x001d, size: 0 }] }), "empty-key-exchange");
  });
  test("bad-early-data: early_data with a body", () => {
    expectInvalid(buildHello({ after: [ext(42, [1])] }), "bad-early-data");
  });
  test("psk-not-last: pre_shared_key before another extension", () => {
    expectInvalid(buildHello({ before: [ext(41, [0, 0, 0, 0])] }), "psk-not-last");
  });
});

describe("sniffHello() is bounded", () => {
  test("too-large: a declared length over the cap is refused before the bytes arrive", () => {
    const s = createSniffer({ maxHelloBytes: 1000 });
    const r = s.push(Uint8Array.from([22, 3, 1, 0x40, 0, 1, 0, 0x3f, 0xfc]));
    assert.equal(r.kind, "too-large");
    if (r.kind === "too-large") assert.equal(r.error.code, "too-large");
  });
  test("too-large: a hello just over the cap", () => {
    const bytes = buildHello({ keyShares: [{ group: 0x11ec, size: 2000 }] });
    assert.equal(createSniffer({ maxHelloBytes: bytes.length - 1 }).push(bytes).kind, "too-large");
    assert.equal(createSniffer({ maxHelloBytes: bytes.length }).push(bytes).kind, "hello");
  });
  test("the cap counts record headers: a hello in 1-byte records is read whole within it", () => {
    const msg = buildHelloMessage({ sni: "split.example", alpn: ["h2", "http/1.1"] });
    const bytes = frame(msg, new Array(msg.length).fill(1));
    assert.equal(bytes.length, msg.length * 6);
    assert.ok(bytes.length <= 16384, `${bytes.length} bytes`);
    const r = expectHello(sniffHello(bytes));
    assert.equal(r.records, msg.length);
    assert.equal(r.hello.serverName, "split.example");
    assert.deepEqual(r.hello.message, msg);
    assert.equal(r.helloBytes, bytes.length);
    // Byte by byte too.
    const s = createSniffer();
    for (let i = 0; i < bytes.length - 1; i++)
      assert.equal(s.push(bytes.subarray(i, i + 1)).kind, "need-more");
    assert.equal(expectHello(s.push(bytes.subarray(bytes.length - 1))).records, msg.length);
  });
  test("too-large: a hello in 1-byte records past the byte cap, found at the record that crosses it", () => {
    const msg = buildHelloMessage({ keyShares: [{ group: 0x11ec, size: 3000 }] });
    const bytes = frame(msg, new Array(msg.length).fill(1));
    assert.ok(bytes.length > 16384);
    const r = sniffHello(bytes);
    assert.equal(r.kind, "too-large");
    if (r.kind === "too-large") assert.match(r.error.message, /more than the 16384-byte limit/);
    // The same bytes in one push or as they trickle in: refused before byte 16385 is needed.
    const s = createSniffer();
    let last: SniffResult = s.result;
    let fed = 0;
    while (last.kind === "need-more") last = s.push(bytes.subarray(fed, ++fed));
    assert.equal(last.kind, "too-large");
    assert.ok(fed <= 16384, `refused after ${fed} bytes`);
    // A larger cap reads it.
    assert.equal(createSniffer({ maxHelloBytes: bytes.length }).push(bytes).kind, "hello");
    assert.equal(createSniffer({ maxHelloBytes: bytes.length - 1 }).push(bytes).kind, "too-large");
  });
  test("the default cap is 16 KiB", () => {
    const big = frame(buildHelloMessage({ keyShares: [{ group: 0x11ec, size: 16300 }] }), [16000]);
    assert.equal(sniffHello(big).kind, "too-large");
    const fits = frame(buildHelloMessage({ keyShares: [{ group: 0x11ec, size: 16000 }] }), [8000]);
    assert.equal(sniffHello(fits).kind, "hello");
  });
});

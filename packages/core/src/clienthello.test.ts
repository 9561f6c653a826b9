import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildHelloMessage, ext, frame, type RawExtension } from "../testing/hello-builder.ts";
import { parseClientHello } from "./clienthello.ts";
import { ClientHelloError, type ClientHelloErrorCode } from "./errors.ts";
import { sniffHello } from "./sniff.ts";

/** `n` empty extensions of distinct, non-GREASE types the parser does not read (from 0x1000). */
function emptyExtensions(n: number): RawExtension[] {
  const out: RawExtension[] = [];
  for (let t = 0x1000; out.length < n; t++) {
    if ((t & 0x0f0f) !== 0x0a0a) out.push(ext(t, []));
  }
  return out;
}

function expectError(message: Uint8Array, code: ClientHelloErrorCode): ClientHelloError {
  try {
    parseClientHello(message);
  } catch (e) {
    assert.ok(e instanceof ClientHelloError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("parseClientHello() with a 16 KiB hello of empty extensions", () => {
  // 4000 extensions of 4 bytes each: 16000 bytes of extensions, the most a 16 KiB hello holds.
  const many = emptyExtensions(4000);

  test("distinct types are all read, in order", () => {
    const msg = buildHelloMessage({ after: many });
    assert.ok(msg.length > 16_000, `${msg.length} bytes`);
    const hello = parseClientHello(msg);
    assert.equal(hello.extensions.length, 6 + many.length);
    assert.deepEqual(
      hello.extensions.slice(6),
      many.map((e) => e.type),
    );
    assert.equal(hello.serverName, "example.com");
  });

  test("one repeated type at the very end is a duplicate-extension, found at its type", () => {
    const dup = many[1234] as RawExtension;
    const msg = buildHelloMessage({ after: [...many, dup] });
    const e = expectError(msg, "duplicate-extension");
    assert.equal(e.offset, msg.length - 4, "the offset is the second occurrence's type");
    assert.match(e.message, new RegExp(`extension ${dup.type} appears twice`));
  });

  test("a repeat of a standard extension (server_name) among thousands is found", () => {
    const msg = buildHelloMessage({ after: [...many, ext(0, [])] });
    expectError(msg, "duplicate-extension");
  });

  test("a repeated GREASE type is a duplicate too", () => {
    expectError(buildHelloMessage({ after: [ext(0x1a1a, []), ext(0x1a1a, [])] }), "duplicate-extension");
  });

  test("each hello starts afresh: types seen by an earlier hello, even one that failed, are new", () => {
    expectError(buildHelloMessage({ after: [...many, many[0] as RawExtension] }), "duplicate-extension");
    expectError(buildHelloMessage({ after: [...many.slice(0, 10), ext(16, [0, 0])] }), "duplicate-extension");
    expectError(
      buildHelloMessage({ alpn: null, after: [...many.slice(0, 10), ext(16, [0, 0])] }),
      "empty-alpn-list",
    );
    assert.equal(parseClientHello(buildHelloMessage({ after: many })).extensions.length, 6 + many.length);
    assert.equal(parseClientHello(buildHelloMessage({ after: many })).extensions.length, 6 + many.length);
  });

  test("the sniffer reads the largest such hello that fits its 16 KiB cap", () => {
    // Two records: 16384 - 2 * 5 bytes of handshake message.
    const base = buildHelloMessage({ after: [] }).length;
    const msg = buildHelloMessage({ after: emptyExtensions((16374 - base) / 4) });
    assert.equal(msg.length, 16374 - ((16374 - base) % 4));
    const bytes = frame(msg, [8000]);
    assert.ok(bytes.length <= 16384);
    const r = sniffHello(bytes);
    assert.equal(r.kind, "hello", r.kind === "invalid" ? r.error.message : r.kind);
    const d = sniffHello(
      frame(buildHelloMessage({ after: [...emptyExtensions(3000), ext(0x1000, [])] }), [8000]),
    );
    assert.equal(d.kind === "invalid" && d.error.code, "duplicate-extension");
  });
});

describe("parseClientHello() reads SNI by the shared host-name rule", () => {
  test("underscores and edge hyphens are read, lower-cased", () => {
    const table: [string, string][] = [
      ["A_B.Example", "a_b.example"],
      ["_acme-challenge.example", "_acme-challenge.example"],
      ["-x-.example", "-x-.example"],
    ];
    for (const [sni, want] of table) {
      assert.equal(parseClientHello(buildHelloMessage({ sni })).serverName, want);
    }
  });

  const refused: [string, ClientHelloErrorCode][] = [
    ["", "empty-server-name"],
    ["a\0b.example", "server-name-bad-character"],
    ["a\tb.example", "server-name-bad-character"],
    ["a b.example", "server-name-bad-character"],
    ["caf\xe9.example", "server-name-bad-character"],
    ["a..example", "server-name-empty-label"],
    ["example.", "server-name-trailing-dot"],
    [`${"a".repeat(64)}.example`, "server-name-too-long"],
    [`${"a.".repeat(127)}ab`, "server-name-too-long"],
  ];
  for (const [sni, code] of refused) {
    test(`${JSON.stringify(sni.slice(0, 24))} is refused as ${code}`, () => {
      const e = expectError(buildHelloMessage({ sni }), code);
      assert.match(e.message, /^Cannot parse ClientHello: host_name /);
    });
  }
});

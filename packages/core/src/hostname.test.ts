import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  compileHostPattern,
  findHostNameIssue,
  type HostNameIssueCode,
  HostnameSet,
  HostPatternError,
  isReverseIpName,
  normalizeHostname,
  parseReverseIpName,
  reverseIpName,
} from "./hostname.ts";
import { formatIp, parseIp } from "./ip.ts";

describe("findHostNameIssue(): the one rule for SNI and patterns", () => {
  const good = [
    "a.example",
    "a_b.example",
    "_acme-challenge.example",
    "-a.example",
    "a-.example",
    "xn--bcher-kva.example",
    "203.0.113.7",
    "a~b!c.example",
    "x",
    `${"a".repeat(63)}.com`,
    `${"a.".repeat(126)}a`,
  ];
  for (const name of good) {
    test(`findHostNameIssue() accepts ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…` : name)}`, () => {
      assert.equal(findHostNameIssue(name), null);
      assert.equal(findHostNameIssue(Uint8Array.from(name, (c) => c.charCodeAt(0))), null);
    });
  }

  const bad: [string, HostNameIssueCode, number][] = [
    ["", "empty", 0],
    [`${"a.".repeat(127)}ab`, "too-long", 0],
    [".", "trailing-dot", 0],
    ["example.com.", "trailing-dot", 11],
    [".example.com", "empty-label", 0],
    ["a..b", "empty-label", 2],
    [`x.${"a".repeat(64)}.com`, "label-too-long", 2],
    ["a\0b.example", "bad-character", 1],
    ["a\x01.example", "bad-character", 1],
    ["a\x7f.example", "bad-character", 1],
    ["a b.example", "bad-character", 1],
    ["a\tb.example", "bad-character", 1],
    ["bücher.de", "bad-character", 1],
  ];
  for (const [name, code, index] of bad) {
    test(`findHostNameIssue() refuses ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…` : name)} (${code})`, () => {
      const issue = findHostNameIssue(name);
      assert.equal(issue?.code, code);
      assert.equal(issue?.index, index);
      // The byte form (as SNI carries it) follows the same rule; "ü" is 0xfc in Latin-1.
      const bytes = Uint8Array.from(name, (c) => c.charCodeAt(0));
      assert.deepEqual(findHostNameIssue(bytes), issue);
    });
  }

  test("findHostNameIssue() agrees on text and bytes for every single byte (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (bytes) => {
        const text = String.fromCharCode(...bytes);
        assert.deepEqual(findHostNameIssue(text), findHostNameIssue(bytes));
        const ok = findHostNameIssue(bytes) === null;
        const visible = bytes.every((b) => b === 0x2e || (b >= 0x21 && b <= 0x7e));
        if (ok) assert.ok(visible, "only visible ASCII passes");
      }),
      { numRuns: 500 },
    );
  });
});

describe("normalizeHostname()", () => {
  test("normalizeHostname() lower-cases ASCII", () => {
    assert.equal(normalizeHostname("WWW.Example.COM"), "www.example.com");
    assert.equal(normalizeHostname("xn--bcher-kva.example"), "xn--bcher-kva.example");
    assert.equal(normalizeHostname("_svc.a-b.example"), "_svc.a-b.example");
    assert.equal(normalizeHostname("A_B.Example"), "a_b.example");
  });

  const bad = [
    "",
    ".",
    "example.com.",
    ".example.com",
    "a..b",
    "a b.com",
    "a\0.com",
    "bücher.de",
    `${"a".repeat(64)}.com`,
    `${"a.".repeat(127)}ab`,
  ];
  for (const name of bad) {
    test(`normalizeHostname() returns null for ${JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…` : name)}`, () => {
      assert.equal(normalizeHostname(name), null);
    });
  }

  test("normalizeHostname() accepts 63-character labels and 253-character names", () => {
    assert.ok(normalizeHostname(`${"a".repeat(63)}.com`));
    const name = `${"a.".repeat(126)}a`; // 253 characters
    assert.equal(name.length, 253);
    assert.equal(normalizeHostname(name), name);
  });
});

describe("compileHostPattern()", () => {
  test("compileHostPattern() matches exact names case-insensitively", () => {
    const m = compileHostPattern("Example.COM");
    assert.equal(m.pattern, "example.com");
    assert.equal(m.wildcard, false);
    assert.equal(m.test("EXAMPLE.com"), true);
    assert.equal(m.test("www.example.com"), false);
    assert.equal(m.test("example.com."), false);
  });

  test("compileHostPattern() wildcard matches exactly one left-most label", () => {
    const m = compileHostPattern("*.example.com");
    assert.equal(m.wildcard, true);
    assert.equal(m.base, "example.com");
    assert.equal(m.test("a.example.com"), true);
    assert.equal(m.test("A-1.EXAMPLE.com"), true);
    assert.equal(m.test("example.com"), false);
    assert.equal(m.test("a.b.example.com"), false);
    assert.equal(m.test(".example.com"), false);
    assert.equal(m.test("aexample.com"), false);
    assert.equal(m.test("a.example.org"), false);
  });

  const badPatterns: [string, string][] = [
    ["", "empty"],
    ["*foo.com", "bad-wildcard"],
    ["foo*.com", "bad-wildcard"],
    ["a.*.com", "bad-wildcard"],
    ["*.*.com", "bad-wildcard"],
    ["**.com", "bad-wildcard"],
    ["*", "bad-wildcard"],
    ["*.", "empty"],
    ["example.com.", "trailing-dot"],
    ["*.example.com.", "trailing-dot"],
    ["a..com", "empty-label"],
    [".com", "empty-label"],
    [`${"a".repeat(64)}.com`, "label-too-long"],
    [`${"a.".repeat(127)}ab`, "too-long"],
    [`*.${"a.".repeat(125)}ab`, "too-long"],
    ["exa mple.com", "bad-character"],
    ["a.example.com b.example.com", "bad-character"],
    ["a\0.example", "bad-character"],
    ["a\n.example", "bad-character"],
    ["bücher.de", "bad-character"],
    ["*.bücher.de", "bad-character"],
  ];
  test("compileHostPattern() accepts what SNI may carry: underscores, edge hyphens", () => {
    assert.equal(compileHostPattern("A_B.example").test("a_b.EXAMPLE"), true);
    assert.equal(compileHostPattern("*._tcp.example").test("x._tcp.example"), true);
    assert.equal(compileHostPattern("-x.example").test("-x.example"), true);
  });

  for (const [pattern, code] of badPatterns) {
    test(`compileHostPattern() rejects ${JSON.stringify(pattern.length > 40 ? `${pattern.slice(0, 20)}…` : pattern)} (${code})`, () => {
      assert.throws(
        () => compileHostPattern(pattern),
        (e: unknown) =>
          e instanceof HostPatternError &&
          e instanceof TypeError &&
          e.code === code &&
          e.pattern === pattern &&
          e.message.startsWith("Cannot parse host pattern "),
      );
    });
  }
});

describe("HostnameSet", () => {
  test("HostnameSet matches exact names first, then wildcards", () => {
    const set = new HostnameSet(["example.com", "*.example.com", "a.example.com", "*.Other.TEST"]);
    assert.equal(set.size, 4);
    assert.equal(set.match("a.example.com"), "a.example.com");
    assert.equal(set.match("B.example.com"), "*.example.com");
    assert.equal(set.match("example.com"), "example.com");
    assert.equal(set.match("x.y.example.com"), undefined);
    assert.equal(set.match("x.other.test"), "*.other.test");
    assert.equal(set.match("other.test"), undefined);
    assert.equal(set.match("example.com."), undefined);
    assert.equal(set.match(""), undefined);
    assert.equal(set.has("b.example.com"), true);
    assert.equal(set.has("nope.test"), false);
    assert.deepEqual([...set], ["example.com", "a.example.com", "*.example.com", "*.other.test"]);
  });

  test("HostnameSet.add() rejects bad patterns", () => {
    assert.throws(() => new HostnameSet().add("a.*.com"), HostPatternError);
  });

  test("HostnameSet agrees with compileHostPattern() (property)", () => {
    const label = fc.stringMatching(/^[a-c]{1,2}$/);
    const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."));
    const pattern = fc.oneof(
      name,
      name.map((n) => `*.${n}`),
    );
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 6 }), name, (patterns, host) => {
        const set = new HostnameSet(patterns);
        const any = patterns.some((p) => compileHostPattern(p).test(host));
        assert.equal(set.has(host), any);
      }),
    );
  });
});

describe("reverse IP names (RFC 8738)", () => {
  test("reverseIpName() writes in-addr.arpa for IPv4", () => {
    assert.equal(reverseIpName("127.0.0.1"), "1.0.0.127.in-addr.arpa");
    assert.equal(reverseIpName("192.0.2.10"), "10.2.0.192.in-addr.arpa");
  });

  test("reverseIpName() writes nibble-reversed ip6.arpa for IPv6", () => {
    // RFC 3596 Section 2.5 example (4321:0:1:2:3:4:567:89ab).
    assert.equal(
      reverseIpName("4321:0:1:2:3:4:567:89ab"),
      "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
    );
    assert.equal(reverseIpName("::1"), `1.${"0.".repeat(31)}ip6.arpa`);
  });

  test("reverseIpName() throws TypeError for non-IP input", () => {
    assert.throws(() => reverseIpName("example.com"), TypeError);
  });

  test("parseReverseIpName() inverts reverseIpName()", () => {
    assert.equal(parseReverseIpName("1.0.0.127.IN-ADDR.ARPA"), "127.0.0.1");
    assert.equal(
      parseReverseIpName("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa"),
      "4321:0:1:2:3:4:567:89ab",
    );
    assert.equal(isReverseIpName("1.0.0.127.in-addr.arpa"), true);
  });

  const notReverse = [
    "0.127.in-addr.arpa",
    "1.1.0.0.127.in-addr.arpa",
    "256.0.0.127.in-addr.arpa",
    "01.0.0.127.in-addr.arpa",
    "1.0.0.127.in-addr.arpa.",
    "in-addr.arpa",
    `1.${"0.".repeat(30)}ip6.arpa`,
    `10.${"0.".repeat(30)}ip6.arpa`,
    `g.${"0.".repeat(31)}ip6.arpa`,
    "example.com",
  ];
  for (const name of notReverse) {
    test(`parseReverseIpName() returns null for ${JSON.stringify(name)}`, () => {
      assert.equal(parseReverseIpName(name), null);
      assert.equal(isReverseIpName(name), false);
    });
  }

  test("reverse names round-trip and are valid host names (property)", () => {
    const ip = fc
      .oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
      .map(formatIp);
    fc.assert(
      fc.property(ip, (text) => {
        const name = reverseIpName(text);
        assert.equal(normalizeHostname(name), name);
        assert.equal(parseReverseIpName(name), text);
        assert.deepEqual(parseIp(parseReverseIpName(name) ?? "")?.bytes, parseIp(text)?.bytes);
      }),
    );
  });
});

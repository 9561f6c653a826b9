import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { formatIp, isIpLiteral, isIpv4Mapped, parseIp, toIpv6 } from "./ip.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

describe("parseIp()", () => {
  const valid: [string, 4 | 6, string][] = [
    ["0.0.0.0", 4, "00000000"],
    ["255.255.255.255", 4, "ffffffff"],
    ["192.0.2.1", 4, "c0000201"],
    ["::", 6, "0".repeat(32)],
    ["::1", 6, `${"0".repeat(30)}01`],
    ["1::", 6, `0001${"0".repeat(28)}`],
    ["2001:DB8::1", 6, "20010db8000000000000000000000001"],
    ["2001:db8:0:0:0:0:2:1", 6, "20010db8000000000000000000020001"],
    ["0001:0002:0003:0004:0005:0006:0007:0008", 6, "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7::", 6, "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", 6, "00000002000300040005000600070008"],
    ["::ffff:1.2.3.4", 6, "00000000000000000000ffff01020304"],
    ["64:ff9b::192.0.2.33", 6, "0064ff9b0000000000000000c0000221"],
    ["1:2:3:4:5:6:1.2.3.4", 6, "00010002000300040005000601020304"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 6, "f".repeat(24) + "ffffffff"],
  ];
  for (const [text, family, bytes] of valid) {
    test(`parseIp() accepts ${text}`, () => {
      const ip = parseIp(text);
      assert.ok(ip);
      assert.equal(ip.family, family);
      assert.equal(hex(ip.bytes), bytes);
    });
  }

  const invalid = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.04",
    "1.2.3.-1",
    "1.2.3.4 ",
    " 1.2.3.4",
    "0x1.2.3.4",
    "127.1",
    "1..2.3",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::",
    "::1:",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7::8",
    "::1:2:3:4:5:6:7:8",
    "12345::",
    "g::",
    "fe80::1%eth0",
    "[::1]",
    "::1.2.3.4:5",
    "1.2.3.4::",
    "::256.0.0.1",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::01.2.3.4",
    "example.com",
    "1:2:3:4:5:6:7:8::",
  ];
  for (const text of invalid) {
    test(`parseIp() rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseIp(text), null);
      assert.equal(isIpLiteral(text), false);
    });
  }
});

describe("formatIp()", () => {
  // RFC 5952 Section 4 examples and edge cases.
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not shortened (4.2.2)
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run (4.2.3)
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs (4.2.3)
    ["2001:DB8::AB", "2001:db8::ab"], // lower case (4.3)
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::ffff:0102:0304", "::ffff:1.2.3.4"], // IPv4-mapped (Section 5)
    ["::1.2.3.4", "::102:304"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["10.0.0.1", "10.0.0.1"],
  ];
  for (const [input, want] of cases) {
    test(`formatIp() writes ${input} as ${want}`, () => {
      const ip = parseIp(input);
      assert.ok(ip);
      assert.equal(formatIp(ip.bytes), want);
    });
  }

  test("formatIp() rejects other lengths", () => {
    assert.throws(() => formatIp(new Uint8Array(5)), RangeError);
  });
});

describe("IPv4-mapped helpers", () => {
  test("isIpv4Mapped() and toIpv6()", () => {
    assert.equal(isIpv4Mapped(parseIp("::ffff:10.0.0.1")?.bytes ?? new Uint8Array()), true);
    assert.equal(isIpv4Mapped(parseIp("::10.0.0.1")?.bytes ?? new Uint8Array()), false);
    assert.equal(isIpv4Mapped(new Uint8Array(4)), false);
    assert.equal(formatIp(toIpv6(Uint8Array.of(192, 0, 2, 1))), "::ffff:192.0.2.1");
    assert.throws(() => toIpv6(new Uint8Array(3)), RangeError);
  });
});

describe("parseIp() / formatIp() properties", () => {
  const v6Bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
  // Addresses with many zero groups exercise "::" placement.
  const v6Sparse = fc
    .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((ws) => {
      const b = new Uint8Array(16);
      ws.forEach((w, i) => {
        b[2 * i] = w >> 8;
        b[2 * i + 1] = w & 0xff;
      });
      return b;
    });

  test("bytes → text → bytes is the identity (IPv4 and IPv6)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), v6Bytes, v6Sparse), (b) => {
        const ip = parseIp(formatIp(b));
        assert.ok(ip);
        assert.equal(ip.family, b.length === 4 ? 4 : 6);
        assert.deepEqual(ip.bytes, b);
      }),
    );
  });

  test("formatting is canonical: format(parse(any valid form)) is stable", () => {
    // Write each group in a random non-canonical way (upper case, leading zeros), no "::".
    const loose = fc
      .tuple(v6Sparse, fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }))
      .map(([b, flags]) => {
        const groups: string[] = [];
        for (let i = 0; i < 8; i++) {
          const w = ((b[2 * i] as number) << 8) | (b[2 * i + 1] as number);
          let s = w.toString(16);
          if (flags[2 * i]) s = s.padStart(4, "0");
          if (flags[2 * i + 1]) s = s.toUpperCase();
          groups.push(s);
        }
        return { b, text: groups.join(":") };
      });
    fc.assert(
      fc.property(loose, ({ b, text }) => {
        const ip = parseIp(text);
        assert.ok(ip);
        assert.deepEqual(ip.bytes, b);
        const canon = formatIp(ip.bytes);
        assert.equal(formatIp(parseIp(canon)?.bytes ?? new Uint8Array(4)), canon);
        assert.ok(canon.length <= 39 + 6);
        assert.equal(canon, canon.toLowerCase());
        assert.ok(!/(^|:)0[0-9a-f]/.test(canon), "no leading zeros");
      }),
    );
  });

  test("parseIp() never throws on arbitrary strings", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:.%x "), maxLength: 50 }),
        (s) => {
          const ip = parseIp(s);
          if (ip !== null) assert.deepEqual(parseIp(formatIp(ip.bytes))?.bytes, ip.bytes);
        },
      ),
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type DecodedProxyHeader,
  decodeProxyHeader,
  ProxyDecodeError,
  type ProxyDecodeResult,
} from "../testing/proxy-protocol-decoder.ts";
import { formatIp, isIpv4Mapped, parseIp, toIpv6 } from "./ip.ts";
import { crc32c, encodeProxyV1, encodeProxyV2, ProxyProtocolError, ProxyTlvType } from "./proxy-protocol.ts";

const SIG = "0d0a0d0a000d0a515549540a";
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const ascii = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function header(r: ProxyDecodeResult): DecodedProxyHeader {
  if (r.kind !== "header")
    assert.fail(`expected a header, got ${r.kind}${r.kind === "invalid" ? `: ${r.error.message}` : ""}`);
  return r;
}

function invalidCode(r: ProxyDecodeResult): string {
  if (r.kind !== "invalid") assert.fail(`expected invalid, got ${r.kind}`);
  assert.ok(r.error instanceof ProxyDecodeError);
  assert.match(r.error.message, /^Cannot parse PROXY header: /);
  return r.error.code;
}

function throwsCode(fn: () => unknown, code: string) {
  assert.throws(
    fn,
    (e: unknown) =>
      e instanceof ProxyProtocolError && e.code === code && /^Cannot encode PROXY header: /.test(e.message),
  );
}

const v4 = { source: { address: "10.0.0.1", port: 1234 }, destination: { address: "10.0.0.2", port: 443 } };

describe("encodeProxyV1()", () => {
  test("encodeProxyV1() writes the spec's TCP4 example", () => {
    const line = encodeProxyV1({
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
    });
    assert.equal(text(line), "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  });

  test("encodeProxyV1() writes TCP6 in RFC 5952 form", () => {
    const line = encodeProxyV1({
      source: { address: "2001:DB8:0:0:0:0:0:1", port: 1 },
      destination: { address: "2001:db8::2", port: 65535 },
    });
    assert.equal(text(line), "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n");
  });

  test("encodeProxyV1() writes IPv4-mapped addresses as TCP4", () => {
    const line = encodeProxyV1({
      source: { address: "::ffff:1.2.3.4", port: 0 },
      destination: { address: "5.6.7.8", port: 443 },
    });
    assert.equal(text(line), "PROXY TCP4 1.2.3.4 5.6.7.8 0 443\r\n");
  });

  test("encodeProxyV1() writes UNKNOWN for mixed families or no addresses", () => {
    assert.equal(
      text(
        encodeProxyV1({ source: { address: "1.2.3.4", port: 1 }, destination: { address: "::1", port: 2 } }),
      ),
      "PROXY UNKNOWN\r\n",
    );
    assert.equal(text(encodeProxyV1()), "PROXY UNKNOWN\r\n");
  });

  test("encodeProxyV1() fits the 107-byte limit at its longest", () => {
    const f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const line = encodeProxyV1({
      source: { address: f, port: 65535 },
      destination: { address: f, port: 65535 },
    });
    assert.equal(line.length, 104);
  });

  test("encodeProxyV1() drops a zone index", () => {
    const line = encodeProxyV1({
      source: { address: "fe80::1%eth0", port: 1 },
      destination: { address: "fe80::2", port: 2 },
    });
    assert.equal(text(line), "PROXY TCP6 fe80::1 fe80::2 1 2\r\n");
  });

  test("encodeProxyV1() rejects bad addresses and ports", () => {
    throwsCode(() => encodeProxyV1({ ...v4, source: { address: "example.com", port: 1 } }), "bad-address");
    throwsCode(() => encodeProxyV1({ ...v4, source: { address: "1.2.3.4%x", port: 1 } }), "bad-address");
    throwsCode(() => encodeProxyV1({ ...v4, destination: { address: "1.2.3.4", port: 65536 } }), "bad-port");
    throwsCode(() => encodeProxyV1({ ...v4, destination: { address: "1.2.3.4", port: -1 } }), "bad-port");
    throwsCode(() => encodeProxyV1({ ...v4, destination: { address: "1.2.3.4", port: 1.5 } }), "bad-port");
    throwsCode(
      () => encodeProxyV1({ ...v4, destination: { address: "1.2.3.4", port: Number.NaN } }),
      "bad-port",
    );
  });
});

describe("encodeProxyV2() golden bytes", () => {
  test("encodeProxyV2() writes TCP4 as 0x21 0x11 with a 12-byte block", () => {
    assert.equal(hex(encodeProxyV2(v4)), `${SIG}2111000c0a0000010a00000204d201bb`);
  });

  test("encodeProxyV2() matches a known TCP4 header (10.1.1.1:1000 → 20.2.2.2:2000)", () => {
    const h = encodeProxyV2({
      source: { address: "10.1.1.1", port: 1000 },
      destination: { address: "20.2.2.2", port: 2000 },
    });
    assert.equal(hex(h), "0D0A0D0A000D0A515549540A2111000C0A0101011402020203E807D0".toLowerCase());
  });

  test("encodeProxyV2() writes TCP6 as 0x21 0x21 with a 36-byte block", () => {
    const h = encodeProxyV2({
      source: { address: "2001:db8::1", port: 1234 },
      destination: { address: "2001:db8::2", port: 8080 },
    });
    assert.equal(
      hex(h),
      `${SIG}21210024` + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" + "04d21f90",
    );
  });

  test("encodeProxyV2() writes IPv4-mapped ends as TCP4", () => {
    const h = encodeProxyV2({
      source: { address: "::ffff:10.0.0.1", port: 1234 },
      destination: { address: "::FFFF:a00:2", port: 443 },
    });
    assert.equal(hex(h), `${SIG}2111000c0a0000010a00000204d201bb`);
  });

  test("encodeProxyV2() maps the IPv4 end to ::ffff: when families are mixed", () => {
    const h = encodeProxyV2({
      source: { address: "2001:db8::1", port: 1 },
      destination: { address: "192.0.2.1", port: 443 },
    });
    assert.equal(
      hex(h),
      `${SIG}21210024` + "20010db8000000000000000000000001" + "00000000000000000000ffffc0000201" + "000101bb",
    );
  });

  test("encodeProxyV2() writes ALPN (0x01) and AUTHORITY (0x02) TLVs", () => {
    const h = encodeProxyV2({ ...v4, tlvs: { authority: "a.example.com", alpn: "h2" } });
    // 12 (addresses) + 3 + 2 (ALPN) + 3 + 13 (AUTHORITY) = 33 = 0x21
    assert.equal(
      hex(h),
      `${SIG}21110021` + "0a0000010a00000204d201bb" + "0100026832" + "02000d" + hex(ascii("a.example.com")),
    );
  });

  test("encodeProxyV2() writes LOCAL as 0x20 0x00 with no addresses", () => {
    assert.equal(hex(encodeProxyV2({ ...v4, command: "local" })), `${SIG}20000000`);
    assert.equal(hex(encodeProxyV2({ command: "local" })), `${SIG}20000000`);
  });

  test("encodeProxyV2() writes AF_UNSPEC when no addresses are given", () => {
    assert.equal(hex(encodeProxyV2()), `${SIG}21000000`);
  });

  test("encodeProxyV2() writes a CRC32C the decoder verifies", () => {
    const h = encodeProxyV2({ ...v4, tlvs: { crc32c: true, uniqueId: Uint8Array.of(1, 2, 3) } });
    const r = header(decodeProxyHeader(h));
    const crc = r.tlvs.find((t) => t.type === ProxyTlvType.crc32c);
    assert.ok(crc);
    const zeroed = h.slice();
    zeroed.fill(0, 16 + 12 + 3, 16 + 12 + 7);
    assert.equal(new DataView(crc.value.buffer, crc.value.byteOffset).getUint32(0), crc32c(zeroed));
    const bad = h.slice();
    bad[16] = 11; // change the source address
    assert.equal(invalidCode(decodeProxyHeader(bad)), "bad-checksum");
  });

  test("crc32c() matches the standard check value", () => {
    assert.equal(crc32c(ascii("123456789")), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  test("encodeProxyV2() validates TLVs", () => {
    throwsCode(() => encodeProxyV2({ ...v4, tlvs: { uniqueId: new Uint8Array(129) } }), "tlv-too-long");
    assert.equal(encodeProxyV2({ ...v4, tlvs: { uniqueId: new Uint8Array(128) } }).length, 16 + 12 + 3 + 128);
    throwsCode(() => encodeProxyV2({ ...v4, tlvs: { authority: "" } }), "bad-tlv");
    throwsCode(() => encodeProxyV2({ ...v4, tlvs: { alpn: new Uint8Array(0) } }), "bad-tlv");
    throwsCode(
      () => encodeProxyV2({ ...v4, tlvs: { extra: [{ type: 256, value: new Uint8Array(1) }] } }),
      "bad-tlv",
    );
    throwsCode(
      () => encodeProxyV2({ ...v4, tlvs: { extra: [{ type: 0xe0, value: new Uint8Array(65536) }] } }),
      "tlv-too-long",
    );
    throwsCode(
      () => encodeProxyV2({ ...v4, tlvs: { extra: [{ type: 0xe0, value: new Uint8Array(65535) }] } }),
      "header-too-long",
    );
    throwsCode(() => encodeProxyV2({ source: v4.source }), "bad-address");
    throwsCode(() => encodeProxyV2({ ...v4, source: { address: "1.2.3.4", port: 99999 } }), "bad-port");
  });
});

describe("decodeProxyHeader()", () => {
  test("decodeProxyHeader() reads a header HAProxy sent (SSL TLV with sub-TLVs)", () => {
    const raw = unhex(
      "0d0a0d0a000d0a515549540a2111002e7f0000017f000001d6ec22b320001f07" +
        "00000000210007544c5376312e3322000d6c69676874686f7573652d3939",
    );
    const r = header(decodeProxyHeader(raw));
    assert.equal(r.version, 2);
    assert.equal(r.command, "proxy");
    assert.equal(r.family, "inet");
    assert.equal(r.transport, "stream");
    assert.deepEqual(r.source, { address: "127.0.0.1", port: 55020 });
    assert.deepEqual(r.destination, { address: "127.0.0.1", port: 8883 });
    assert.equal(r.length, raw.length);
    assert.equal(r.tlvs.length, 1);
    assert.equal(r.tlvs[0]?.type, ProxyTlvType.ssl);
    assert.ok(text(r.tlvs[0]?.value ?? new Uint8Array()).includes("TLSv1.3"));
  });

  test("decodeProxyHeader() leaves data after the header alone", () => {
    const h = encodeProxyV2({ ...v4, tlvs: { alpn: "acme-tls/1" } });
    const withData = new Uint8Array([...h, 0x16, 0x03, 0x01]);
    const r = header(decodeProxyHeader(withData));
    assert.equal(r.length, h.length);
    assert.equal(text(r.tlvs[0]?.value ?? new Uint8Array()), "acme-tls/1");
    const line = header(decodeProxyHeader(new Uint8Array([...encodeProxyV1(v4), 0x16])));
    assert.equal(line.length, encodeProxyV1(v4).length);
  });

  test("decodeProxyHeader() says need-more for every strict prefix", () => {
    for (const full of [
      encodeProxyV2({ ...v4, tlvs: { authority: "example.com" } }),
      encodeProxyV1(v4),
      encodeProxyV1(),
    ]) {
      for (let i = 0; i < full.length; i++) {
        assert.equal(decodeProxyHeader(full.subarray(0, i)).kind, "need-more", `prefix ${i} of ${hex(full)}`);
      }
      assert.equal(decodeProxyHeader(full).kind, "header");
    }
  });

  test("decodeProxyHeader() rejects a wrong signature, version, command or family", () => {
    assert.equal(invalidCode(decodeProxyHeader(ascii("GET / HTTP/1.1\r\n"))), "bad-signature");
    assert.equal(invalidCode(decodeProxyHeader(Uint8Array.of(0x16, 3, 1))), "bad-signature");
    assert.equal(invalidCode(decodeProxyHeader(ascii("PROXX"))), "bad-signature");
    const h = encodeProxyV2(v4);
    const mutate = (i: number, v: number) => {
      const c = h.slice();
      c[i] = v;
      return decodeProxyHeader(c);
    };
    assert.equal(invalidCode(mutate(11, 0x0b)), "bad-signature");
    assert.equal(invalidCode(mutate(12, 0x11)), "bad-version");
    assert.equal(invalidCode(mutate(12, 0x22)), "bad-command");
    for (const fam of [0x01, 0x10, 0x13, 0x20, 0x41, 0x23])
      assert.equal(invalidCode(mutate(13, fam)), "bad-family");
  });

  test("decodeProxyHeader() rejects short address blocks and broken TLVs", () => {
    // TCP4 with length 8: the address block needs 12.
    assert.equal(invalidCode(decodeProxyHeader(unhex(`${SIG}211100080a0000010a000002`))), "bad-length");
    // A TLV that claims more bytes than the header holds.
    assert.equal(
      invalidCode(decodeProxyHeader(unhex(`${SIG}2111000f0a0000010a00000204d201bb010005`))),
      "bad-tlv",
    );
    // Two stray bytes after the addresses.
    assert.equal(
      invalidCode(decodeProxyHeader(unhex(`${SIG}2111000e0a0000010a00000204d201bb0100`))),
      "bad-tlv",
    );
    // A unique ID over 128 bytes.
    const big = encodeProxyV2({
      ...v4,
      tlvs: { extra: [{ type: ProxyTlvType.uniqueId, value: new Uint8Array(129) }] },
    });
    assert.equal(invalidCode(decodeProxyHeader(big)), "tlv-too-long");
    // A CRC32C TLV of the wrong size.
    assert.equal(
      invalidCode(decodeProxyHeader(unhex(`${SIG}21110010${"00".repeat(12)}03000100`))),
      "bad-tlv",
    );
  });

  test("decodeProxyHeader() accepts LOCAL and skips its block", () => {
    const r = header(decodeProxyHeader(unhex(`${SIG}2011000c0a0000010a00000204d201bb`)));
    assert.equal(r.command, "local");
    assert.equal(r.source, null);
    assert.equal(r.length, 28);
    const short = header(decodeProxyHeader(unhex(`${SIG}20110000`)));
    assert.equal(short.length, 16);
  });

  test("decodeProxyHeader() reads UDP and UNIX families without endpoints for UNIX", () => {
    const udp = header(decodeProxyHeader(unhex(`${SIG}2112000c0a0000010a00000200350035`)));
    assert.equal(udp.transport, "dgram");
    assert.deepEqual(udp.source, { address: "10.0.0.1", port: 53 });
    const unix = header(decodeProxyHeader(unhex(`${SIG}213100d8${"00".repeat(216)}`)));
    assert.equal(unix.family, "unix");
    assert.equal(unix.source, null);
  });

  const badLines = [
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", // LF alone
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", // CR alone
    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", // missing port
    "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", // double space
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", // trailing space
    "PROXY TCP4 1.2.3.4 ::1 1 2\r\n", // family mismatch
    "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", // family mismatch
    "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", // leading zero
    "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", // leading zero port
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", // port out of range
    "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", // unknown protocol
    "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
    `PROXY UNKNOWN ${"x".repeat(100)}\r\n`, // longer than 107
    "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", // control character
  ];
  for (const line of badLines) {
    test(`decodeProxyHeader() rejects ${JSON.stringify(line)}`, () => {
      invalidCode(decodeProxyHeader(ascii(line)));
    });
  }

  test("decodeProxyHeader() reads v1 TCP6 and UNKNOWN with trailing fields", () => {
    const r = header(decodeProxyHeader(ascii("PROXY TCP6 2001:DB8::1 ::ffff:1.2.3.4 1 2\r\n")));
    assert.equal(r.family, "inet6");
    assert.deepEqual(r.source, { address: "2001:db8::1", port: 1 });
    assert.deepEqual(r.destination, { address: "::ffff:1.2.3.4", port: 2 });
    const u = header(decodeProxyHeader(ascii("PROXY UNKNOWN ffff:: ffff:: 65535 65535\r\n")));
    assert.equal(u.family, "unknown");
    assert.equal(u.source, null);
    const max = `PROXY UNKNOWN ${"f".repeat(107 - 16)}\r\n`;
    assert.equal(max.length, 107);
    assert.equal(decodeProxyHeader(ascii(max)).kind, "header");
  });
});

describe("PROXY round trips (properties)", () => {
  const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIp(b));
  const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIp(b));
  const port = fc.integer({ min: 0, max: 65535 });
  const endpoint = (ip: fc.Arbitrary<string>) => fc.record({ address: ip, port });
  const anyIp = fc.oneof(ipv4, ipv6);
  const tlvs = fc.record(
    {
      alpn: fc.string({ minLength: 1, maxLength: 20 }),
      authority: fc.domain(),
      uniqueId: fc.uint8Array({ maxLength: 128 }),
      crc32c: fc.boolean(),
      extra: fc.array(
        fc.record({ type: fc.integer({ min: 0xe0, max: 0xef }), value: fc.uint8Array({ maxLength: 40 }) }),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: [] },
  );

  const isV4 = (a: string) => {
    const ip = parseIp(a);
    assert.ok(ip);
    return ip.family === 4 || isIpv4Mapped(ip.bytes);
  };

  /** The address the decoder reports: IPv4-mapped ends become IPv4 unless the other end is IPv6. */
  function expected(a: string, other: string): string {
    const ip = parseIp(a);
    assert.ok(ip);
    if (isV4(a) && isV4(other)) return formatIp(ip.family === 4 ? ip.bytes : ip.bytes.subarray(12));
    return formatIp(toIpv6(ip.bytes));
  }

  test("v2 encode → decode gives back addresses, ports and TLVs", () => {
    fc.assert(
      fc.property(endpoint(anyIp), endpoint(anyIp), tlvs, (source, destination, t) => {
        const h = encodeProxyV2({ source, destination, tlvs: t });
        const r = header(decodeProxyHeader(h));
        assert.equal(r.length, h.length);
        assert.equal(r.version, 2);
        assert.equal(r.command, "proxy");
        assert.deepEqual(r.source, {
          address: expected(source.address, destination.address),
          port: source.port,
        });
        assert.deepEqual(r.destination, {
          address: expected(destination.address, source.address),
          port: destination.port,
        });
        const byType = (type: number) => r.tlvs.find((x) => x.type === type)?.value;
        if (t.alpn !== undefined) assert.equal(text(byType(ProxyTlvType.alpn) ?? new Uint8Array()), t.alpn);
        if (t.authority !== undefined)
          assert.equal(text(byType(ProxyTlvType.authority) ?? new Uint8Array()), t.authority);
        if (t.uniqueId !== undefined) assert.deepEqual(byType(ProxyTlvType.uniqueId), t.uniqueId);
        assert.equal(byType(ProxyTlvType.crc32c) !== undefined, t.crc32c === true);
        const custom = r.tlvs
          .filter((x) => x.type >= 0xe0)
          .map((x) => ({ type: x.type, value: x.value.slice() }));
        assert.deepEqual(
          custom,
          (t.extra ?? []).map((x) => ({ type: x.type, value: x.value })),
        );
      }),
    );
  });

  test("v1 encode → decode gives back addresses and ports", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.tuple(endpoint(ipv4), endpoint(ipv4)), fc.tuple(endpoint(ipv6), endpoint(ipv6))),
        ([source, destination]) => {
          const h = encodeProxyV1({ source, destination });
          const r = header(decodeProxyHeader(h));
          assert.equal(r.length, h.length);
          assert.ok(h.length <= 107);
          if (r.family === "unknown") {
            // a random IPv6 end can be IPv4-mapped: then the families differ
            assert.notEqual(isV4(source.address), isV4(destination.address));
            return;
          }
          assert.deepEqual(r.source, {
            address: expected(source.address, destination.address),
            port: source.port,
          });
          assert.deepEqual(r.destination, {
            address: expected(destination.address, source.address),
            port: destination.port,
          });
        },
      ),
    );
  });

  test("decodeProxyHeader() never throws on mutated or random input", () => {
    const base = encodeProxyV2({ ...v4, tlvs: { authority: "a.example", crc32c: true } });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
            const c = base.slice();
            c[i] = v;
            return c;
          }),
          fc.string({ maxLength: 120 }).map((s) => ascii(`PROXY ${s}`)),
        ),
        (bytes) => {
          const r = decodeProxyHeader(bytes);
          assert.ok(["header", "need-more", "invalid"].includes(r.kind));
          if (r.kind === "header") assert.ok(r.length <= bytes.length);
        },
      ),
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../config.ts";
import { describeMatch, describeTarget, formatDuration, formatUtc, relativeTime } from "./format.ts";

const DAY = 86_400_000;

describe("status page formatting", () => {
  test("durations and relative times", () => {
    assert.equal(formatDuration(59_999), "59 s");
    assert.equal(formatDuration(60_000), "1 min");
    assert.equal(formatDuration(3 * 3600_000), "3 h");
    assert.equal(formatDuration(DAY + 2 * 3600_000), "1 day 2 h");
    assert.equal(formatDuration(-5), "0 s");
    assert.equal(relativeTime(89 * DAY + 5, 0), "in 89 days");
    assert.equal(relativeTime(0, 3 * DAY), "3 days ago");
    assert.equal(relativeTime(DAY + 3600_000, 0), "in 1 day 1 h");
    assert.equal(formatUtc("2030-01-31T23:59:59Z"), "2030-01-31 23:59 UTC");
    assert.equal(formatUtc("not a date"), "not a date");
  });

  test("matchers and targets in words", () => {
    const c = parseConfig({
      routes: [
        { match: { sni: ["a.example", "*.b.example"], alpn: ["h2"] }, target: { upstream: "[::1]:8443" } },
        { match: { acme: "contains", noSni: true, ech: false }, target: "reject" },
        { match: { acme: true }, target: { acme: "builtin", fallback: { upstream: "127.0.0.1:10443" } } },
      ],
      default: { upstream: "127.0.0.1:8443", proxy: "v2", tlvs: ["authority", "alpn"], connectTimeout: "2s" },
    });
    const [r0, r1, r2] = c.routes;
    assert.equal(describeMatch(r0!.match), "SNI a.example, *.b.example · ALPN h2");
    assert.equal(describeMatch(r1!.match), "ALPN offers acme-tls/1 · no SNI · no ECH");
    assert.equal(describeTarget(r0!.target), "[::1]:8443");
    assert.equal(describeTarget(r1!.target), "reject");
    assert.equal(describeTarget(r2!.target), "built-in ACME responder (else 127.0.0.1:10443)");
    assert.equal(
      describeTarget(c.default),
      "127.0.0.1:8443 (PROXY v2, TLVs authority, alpn, connect timeout 2000 ms)",
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AddressError, formatHostPort, parseHostPort } from "./address.ts";
import { parseDuration } from "./duration.ts";

describe("parseHostPort()", () => {
  const ok: [string, string, number][] = [
    ["127.0.0.1:8443", "127.0.0.1", 8443],
    ["[::1]:443", "::1", 443],
    ["[2001:db8::5]:10443", "2001:db8::5", 10443],
    ["backend.internal:443", "backend.internal", 443],
  ];
  for (const [text, host, port] of ok) {
    test(`parses ${text}`, () => {
      assert.deepEqual(parseHostPort(text), { host, port });
      assert.equal(formatHostPort({ host, port }), text);
    });
  }
  const bad: [string, AddressError["code"]][] = [
    ["10.0.0.5", "no-port"],
    ["::1:443", "bad-host"],
    ["[::1]", "no-port"],
    ["host:0", "bad-port"],
    ["host:65536", "bad-port"],
    ["host:http", "bad-port"],
    [":443", "bad-host"],
    ["bad host:1", "bad-host"],
    ["[1.2.3.4]:1", "bad-host"],
  ];
  for (const [text, code] of bad) {
    test(`rejects ${text} with ${code}`, () => {
      assert.throws(
        () => parseHostPort(text),
        (e: unknown) => e instanceof AddressError && e.code === code,
      );
    });
  }
  test("listener mode allows an empty host and port 0", () => {
    assert.deepEqual(parseHostPort(":443", { allowEmptyHost: true }), { host: "", port: 443 });
    assert.deepEqual(parseHostPort("127.0.0.1:0", { allowEmptyHost: true }), { host: "127.0.0.1", port: 0 });
  });
});

describe("parseDuration()", () => {
  test("units and numbers", () => {
    assert.equal(parseDuration("10s"), 10_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration(250), 250);
  });
  test("garbage is null", () => {
    for (const t of ["", "10", "s", "-1s", "1d", "1e3ms"]) assert.equal(parseDuration(t), null, t);
    assert.equal(parseDuration(-1), null);
  });
});

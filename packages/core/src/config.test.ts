import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, DEFAULT_CONFIG_YAML, loadConfig, parseConfig } from "./config.ts";

function issues(input: unknown): { path: string; message: string }[] {
  try {
    parseConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return [...e.issues];
  }
  assert.fail("expected a ConfigError");
}

describe("loadConfig()", () => {
  test("the embedded default is the seed recipe on IPv6 and IPv4", () => {
    const c = loadConfig(DEFAULT_CONFIG_YAML);
    assert.deepEqual(c.listen, [
      { host: "::", port: 443 },
      { host: "0.0.0.0", port: 443 },
    ]);
    assert.equal(c.routes[0]?.name, "acme");
    assert.deepEqual(c.routes[0]?.match, { acme: "exact" });
    assert.equal(c.helloTimeout, 10_000);
    assert.ok(typeof c.default === "object" && c.default.proxy === "v2");
  });
  test("YAML syntax errors are ConfigError bad-yaml", () => {
    assert.throws(
      () => loadConfig("routes: [\n", "x.yaml"),
      (e: unknown) => e instanceof ConfigError && e.code === "bad-yaml",
    );
  });
});

describe("parseConfig() names the path and the reason", () => {
  test("an upstream without a port", () => {
    const i = issues({
      routes: [{}, {}, { match: { sni: ["a"] }, target: { upstream: "10.0.0.5" } }].slice(2),
      default: "reject",
    });
    assert.deepEqual(i, [{ path: "routes[0].target.upstream", message: '"10.0.0.5" has no port' }]);
  });
  test("routes[2].target.upstream in a longer table", () => {
    const ok = { match: { sni: ["a.example"] }, target: { upstream: "127.0.0.1:1" } };
    const i = issues({
      routes: [ok, ok, { match: { acme: true }, target: { upstream: "10.0.0.5" } }],
      default: "reject",
    });
    assert.equal(i[0]?.path, "routes[2].target.upstream");
    assert.equal(i[0]?.message, '"10.0.0.5" has no port');
  });
  test("a missing default is required", () => {
    assert.deepEqual(issues({}), [{ path: "default", message: "is required" }]);
  });
  test("unknown keys, bad durations, bad ports, IPv6 without brackets", () => {
    const i = issues({
      default: { upstream: "::1:443" },
      helloTimeout: "soon",
      listen: ["0.0.0.0:70000"],
      colour: "blue",
    });
    const paths = i.map((x) => x.path).sort();
    assert.deepEqual(paths, ["", "default.upstream", "helloTimeout", "listen[0]"]);
    assert.match(i.find((x) => x.path === "default.upstream")?.message ?? "", /brackets/);
  });
  test("the ACME route never gets a PROXY header", () => {
    const i = issues({
      routes: [{ match: { acme: true }, target: { upstream: "127.0.0.1:1", proxy: "v2" } }],
      default: "reject",
    });
    assert.equal(i[0]?.path, "routes[0].target.proxy");
  });
  test("acme: builtin needs an acme matcher", () => {
    const i = issues({
      routes: [{ match: { sni: ["a.example"] }, target: { acme: "builtin" } }],
      default: "reject",
    });
    assert.equal(i[0]?.path, "routes[0].match");
  });
  test("TLVs need PROXY v2", () => {
    const i = issues({ default: { upstream: "127.0.0.1:1", proxy: "v1", tlvs: ["authority"] } });
    assert.equal(i[0]?.path, "default.tlvs");
  });
  test("an empty match is refused", () => {
    const i = issues({ routes: [{ match: {}, target: "reject" }], default: "reject" });
    assert.equal(i[0]?.path, "routes[0].match");
  });
  test("durations in several units", () => {
    const c = parseConfig({
      helloTimeout: "1.5s",
      connectTimeout: "250ms",
      drainTimeout: "2m",
      default: "reject",
    });
    assert.deepEqual([c.helloTimeout, c.connectTimeout, c.drainTimeout], [1500, 250, 120_000]);
  });
  test("the message lists every issue", () => {
    try {
      parseConfig({ default: { upstream: "x" }, helloTimeout: "no" }, "my.yaml");
      assert.fail();
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^Invalid my\.yaml:\n {2}/);
      assert.match(e.message, /default\.upstream: "x" has no port/);
      assert.match(e.message, /helloTimeout: "no" is not a duration/);
    }
  });
});

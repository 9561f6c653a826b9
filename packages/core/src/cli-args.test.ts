import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { applyRunFlags, parseCli, UsageError } from "./cli-args.ts";
import { DEFAULT_CONFIG_YAML, loadConfig, parseConfig } from "./config.ts";

describe("parseCli()", () => {
  test("the seed command line", () => {
    const c = parseCli([
      "--listen",
      "[::]:443",
      "--listen=0.0.0.0:443",
      "--acme",
      "127.0.0.1:10443",
      "--default",
      "127.0.0.1:8443",
      "--default-proxy",
      "v2",
    ]);
    assert.deepEqual(c, {
      command: "run",
      flags: {
        listen: ["[::]:443", "0.0.0.0:443"],
        acme: "127.0.0.1:10443",
        default: "127.0.0.1:8443",
        defaultProxy: "v2",
      },
    });
  });
  test("subcommands", () => {
    assert.deepEqual(parseCli(["hello"]), { command: "hello", file: "-" });
    assert.deepEqual(parseCli(["hello", "x.bin"]), { command: "hello", file: "x.bin" });
    assert.deepEqual(parseCli(["check", "a.yaml"]), { command: "check", file: "a.yaml" });
    assert.deepEqual(parseCli(["challenge", "set", "a", "b"]), {
      command: "challenge",
      args: ["set", "a", "b"],
    });
    assert.deepEqual(parseCli(["--help"]), { command: "help" });
    assert.deepEqual(parseCli(["run"]), { command: "run", flags: { listen: [] } });
  });
  test("usage errors", () => {
    assert.throws(() => parseCli(["--bogus"]), UsageError);
    assert.throws(() => parseCli(["--listen"]), /needs a value/);
    assert.throws(() => parseCli(["check"]), UsageError);
  });
});

describe("applyRunFlags()", () => {
  const base = parseYaml(DEFAULT_CONFIG_YAML);
  test("--acme replaces the acme route, --default replaces the default (no PROXY unless asked)", () => {
    const c = parseConfig(
      applyRunFlags(base, { listen: ["127.0.0.1:4443"], acme: "127.0.0.1:1", default: "127.0.0.1:2" }),
    );
    assert.equal(c.routes.length, 1);
    assert.deepEqual(c.routes[0]?.target, {
      upstream: { host: "127.0.0.1", port: 1 },
      proxy: "none",
      tlvs: [],
    });
    assert.deepEqual(c.default, { upstream: { host: "127.0.0.1", port: 2 }, proxy: "none", tlvs: [] });
    assert.deepEqual(c.listen, [{ host: "127.0.0.1", port: 4443 }]);
  });
  test("--default-proxy alone keeps the file's default upstream", () => {
    const c = parseConfig(applyRunFlags(base, { listen: [], defaultProxy: "v1" }));
    assert.ok(typeof c.default === "object" && c.default.proxy === "v1" && c.default.upstream.port === 8443);
  });
  test("--acme builtin and an added acme route go first", () => {
    const doc = {
      routes: [{ name: "web", match: { sni: ["a.example"] }, target: "reject" }],
      default: "reject",
    };
    const c = parseConfig(applyRunFlags(doc, { listen: [], acme: "builtin" }));
    assert.equal(c.routes[0]?.name, "acme");
    assert.deepEqual(c.routes[0]?.target, { acme: "builtin", fallback: "reject" });
    assert.equal(c.routes[1]?.name, "web");
  });
  test("does not modify its input", () => {
    const doc = loadConfig(DEFAULT_CONFIG_YAML) && parseYaml(DEFAULT_CONFIG_YAML);
    const copy = structuredClone(doc);
    applyRunFlags(doc, { listen: ["127.0.0.1:1"], acme: "builtin", logLevel: "debug" });
    assert.deepEqual(doc, copy);
  });
});

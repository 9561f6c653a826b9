import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import {
  ConfigError,
  type ConfigIssue,
  DEFAULT_CONFIG_YAML,
  loadConfig,
  parseConfig,
  resolveWorkers,
} from "./config.ts";
import { applyRunFlags, attributeIssues, type RunFlags } from "./run-flags.ts";

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

describe("attributeIssues()", () => {
  /** The issues parseConfig finds in the merged document, split by where each value came from. */
  function split(doc: unknown, flags: RunFlags) {
    try {
      parseConfig(applyRunFlags(doc, flags));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return attributeIssues(e.issues, doc, flags);
    }
    assert.fail("expected config issues");
  }

  test("each flag's problem names the flag", () => {
    const r = split(
      { default: "reject" },
      {
        listen: ["127.0.0.1:1", "bogus"],
        acme: "nope",
        default: "10.0.0.5",
        helloTimeout: "soon",
        logLevel: "loud",
        admin: "x",
        adminToken: "short",
      },
    );
    assert.deepEqual(r.file, []);
    const byFlag = Object.fromEntries(r.flags.map((i) => [i.flag, i.message]));
    assert.deepEqual(Object.keys(byFlag).sort(), [
      "--acme",
      "--admin",
      "--admin-token",
      "--default",
      "--hello-timeout",
      "--listen",
      "--log-level",
    ]);
    assert.match(byFlag["--listen"] ?? "", /^--listen: "bogus" has no port$/);
    assert.match(byFlag["--acme"] ?? "", /^--acme: "nope" has no port$/);
    assert.match(byFlag["--default"] ?? "", /^--default: "10\.0\.0\.5" has no port$/);
    assert.match(byFlag["--hello-timeout"] ?? "", /^--hello-timeout: "soon" is not a duration/);
  });

  test("the file's problems keep their paths, with route indices as in the file", () => {
    const doc = {
      routes: [{ name: "web", match: { sni: ["a.example"] }, target: { upstream: "10.0.0.5" } }],
      default: { upstream: "127.0.0.1:1", proxy: "v3" },
    };
    const r = split(doc, { listen: [], acme: "builtin", defaultProxy: "v1", logFormat: "xml" });
    const paths = (issues: readonly ConfigIssue[]) => issues.map((i) => i.path);
    // --acme put its route first: the file's routes[0] is routes[1] of the merged document.
    assert.deepEqual(paths(r.file), ["routes[0].target.upstream"]);
    assert.deepEqual(
      r.flags.map((i) => i.flag),
      ["--log-format"],
      "--default-proxy v1 replaced the file's v3",
    );
  });

  test("--acme that replaces the file's acme route keeps the other indices", () => {
    const doc = {
      routes: [
        { name: "web", match: { sni: ["a.example"] }, target: { upstream: "10.0.0.5" } },
        { name: "acme", match: { acme: "exact" }, target: { upstream: "127.0.0.1:1" } },
      ],
      default: "reject",
    };
    const r = split(doc, { listen: [], acme: "127.0.0.1" });
    assert.deepEqual(
      r.file.map((i) => i.path),
      ["routes[0].target.upstream"],
    );
    assert.deepEqual(
      r.flags.map((i) => i.message),
      ['--acme: "127.0.0.1" has no port'],
    );
  });

  test("--default-proxy names itself; the rest of a flag-set default is --default's", () => {
    const r = split({}, { listen: [], default: "127.0.0.1", defaultProxy: "v9" });
    assert.deepEqual(r.flags.map((i) => i.flag).sort(), ["--default", "--default-proxy"]);
  });
});

describe("--workers", () => {
  test("--workers N and auto reach the config; a bad value is reported as --workers", () => {
    const doc = { default: "reject" };
    assert.equal(parseConfig(applyRunFlags(doc, { listen: [], workers: "3" })).workers, 3);
    assert.equal(parseConfig(applyRunFlags(doc, { listen: [], workers: "auto" })).workers, "auto");
    assert.equal(parseConfig(doc).workers, 1);
    assert.equal(resolveWorkers("auto", 8), 8);
    assert.equal(resolveWorkers("auto"), 1);
    for (const bad of ["0", "two", "1.5"]) {
      const flags: RunFlags = { listen: [], workers: bad };
      try {
        parseConfig(applyRunFlags(doc, flags));
        assert.fail(`--workers ${bad} was accepted`);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        const split = attributeIssues(e.issues, doc, flags);
        assert.equal(split.flags[0]?.flag, "--workers", bad);
      }
    }
  });
});

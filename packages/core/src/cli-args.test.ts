import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import {
  applyRunFlags,
  attributeIssues,
  parseArgs,
  parseChallengeArgs,
  parseCli,
  type RunFlags,
  UsageError,
  type UsageErrorCode,
} from "./cli-args.ts";
import { ConfigError, type ConfigIssue, DEFAULT_CONFIG_YAML, loadConfig, parseConfig } from "./config.ts";

/** Asserts `fn` throws a UsageError with `code`, a message matching `message`, and `flag`. */
function throwsUsage(fn: () => unknown, code: UsageErrorCode, message: RegExp, flag?: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.equal(e.flag, flag);
    return true;
  });
}

describe("parseArgs()", () => {
  const spec = { values: ["--listen", "--ttl"], repeatable: ["--listen"] };
  test("--name value and --name=value; a value may start with '-'", () => {
    const p = parseArgs(["--ttl", "-1s", "--listen=a", "x", "--listen", "b"], spec);
    assert.deepEqual(
      [...p.values],
      [
        ["--ttl", ["-1s"]],
        ["--listen", ["a", "b"]],
      ],
    );
    assert.deepEqual(p.args, ["x"]);
    assert.equal(p.help, false);
  });
  test("a flag given twice keeps its last value unless it is repeatable", () => {
    assert.deepEqual(parseArgs(["--ttl", "1s", "--ttl=2s"], spec).values.get("--ttl"), ["2s"]);
  });
  test("-h and --help anywhere; -- ends the flags; '-' and '-x' are arguments", () => {
    assert.equal(parseArgs(["a", "-h"], spec).help, true);
    assert.equal(parseArgs(["--help", "a"], spec).help, true);
    assert.deepEqual(parseArgs(["-", "-x", "--", "--ttl", "-h"], spec).args, ["-", "-x", "--ttl", "-h"]);
  });
  test("unknown flags (with a suggestion), missing or empty values, a value for --help", () => {
    throwsUsage(
      () => parseArgs(["--lisen", "x"], spec),
      "unknown-flag",
      /^unknown flag "--lisen" \(did you mean --listen\?\)$/,
      "--lisen",
    );
    throwsUsage(
      () => parseArgs(["--nothing-like-it"], spec),
      "unknown-flag",
      /^unknown flag "--nothing-like-it"$/,
      "--nothing-like-it",
    );
    throwsUsage(() => parseArgs(["--listen=x=y", "--bogus=1"], spec), "unknown-flag", /"--bogus"/, "--bogus");
    throwsUsage(() => parseArgs(["--ttl"], spec), "missing-value", /^--ttl needs a value$/, "--ttl");
    throwsUsage(() => parseArgs(["--ttl="], spec), "missing-value", /^--ttl needs a value$/, "--ttl");
    throwsUsage(() => parseArgs(["--ttl", ""], spec), "missing-value", /needs a value/, "--ttl");
    throwsUsage(() => parseArgs(["--help=1"], spec), "bad-value", /^--help takes no value$/, "--help");
  });
});

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
  test("every run flag sets its field; the last of a repeated flag wins", () => {
    const c = parseCli([
      "run",
      "--config=c.yaml",
      "--hello-timeout",
      "5s",
      "--log-level",
      "debug",
      "--log-format",
      "pretty",
      "--admin",
      "127.0.0.1:1",
      "--admin-token",
      "a",
      "--admin-token",
      "b",
      "--admin-token-file",
      "t.txt",
    ]);
    assert.deepEqual(c, {
      command: "run",
      flags: {
        config: "c.yaml",
        listen: [],
        helloTimeout: "5s",
        logLevel: "debug",
        logFormat: "pretty",
        admin: "127.0.0.1:1",
        adminToken: "b",
        adminTokenFile: "t.txt",
      },
    });
  });
  test("subcommands", () => {
    assert.deepEqual(parseCli(["hello"]), { command: "hello", file: "-" });
    assert.deepEqual(parseCli(["hello", "-"]), { command: "hello", file: "-" });
    assert.deepEqual(parseCli(["hello", "x.bin"]), { command: "hello", file: "x.bin" });
    assert.deepEqual(parseCli(["check", "a.yaml"]), { command: "check", file: "a.yaml" });
    assert.deepEqual(parseCli(["check", "--", "--odd.yaml"]), { command: "check", file: "--odd.yaml" });
    assert.deepEqual(parseCli(["challenge", "set", "a", "b"]), {
      command: "challenge",
      args: ["set", "a", "b"],
    });
    assert.deepEqual(parseCli(["--help"]), { command: "help" });
    assert.deepEqual(parseCli(["run", "-h"]), { command: "help" });
    assert.deepEqual(parseCli(["check", "--help"]), { command: "help" });
    assert.deepEqual(parseCli(["--version"]), { command: "version" });
    assert.deepEqual(parseCli(["run"]), { command: "run", flags: { listen: [] } });
    assert.deepEqual(parseCli([]), { command: "run", flags: { listen: [] } });
  });
  test("usage errors carry a code and, for a flag, the flag", () => {
    throwsUsage(() => parseCli(["--bogus"]), "unknown-flag", /^unknown flag "--bogus"$/, "--bogus");
    throwsUsage(() => parseCli(["-v"]), "unknown-flag", /^unknown flag "-v"$/, "-v");
    throwsUsage(() => parseCli(["--listen"]), "missing-value", /^--listen needs a value$/, "--listen");
    throwsUsage(() => parseCli(["--listen", "[::]:443", "extra"]), "unexpected-argument", /"extra"/);
    throwsUsage(() => parseCli(["frobnicate"]), "unknown-command", /^unknown command "frobnicate"$/);
    throwsUsage(() => parseCli(["check"]), "missing-argument", /^check takes one FILE$/);
    throwsUsage(() => parseCli(["check", "a", "b"]), "unexpected-argument", /one FILE; unexpected "b"/);
    throwsUsage(() => parseCli(["check", "--config", "a"]), "unknown-flag", /"--config"/, "--config");
    throwsUsage(() => parseCli(["hello", "a", "b"]), "unexpected-argument", /at most one FILE/);
  });
});

describe("parseChallengeArgs()", () => {
  test("set, delete, list with their flags", () => {
    assert.deepEqual(
      parseChallengeArgs(["set", "a.example", "-tok.thumb", "--ttl", "90s", "--admin=http://x"]),
      {
        action: "set",
        identifier: "a.example",
        keyAuthorization: "-tok.thumb",
        ttlSeconds: 90,
        admin: "http://x",
      },
    );
    assert.deepEqual(parseChallengeArgs(["delete", "--admin-token", "t", "a.example"]), {
      action: "delete",
      identifier: "a.example",
      token: "t",
    });
    assert.deepEqual(parseChallengeArgs(["list"]), { action: "list" });
    assert.deepEqual(parseChallengeArgs(["list", "-h"]), { action: "help" });
  });
  test("usage errors", () => {
    throwsUsage(() => parseChallengeArgs([]), "missing-argument", /missing command/);
    throwsUsage(() => parseChallengeArgs(["get"]), "unknown-command", /unknown command "get"/);
    throwsUsage(() => parseChallengeArgs(["set", "a"]), "missing-argument", /got 1 argument$/);
    throwsUsage(
      () => parseChallengeArgs(["list", "a"]),
      "unexpected-argument",
      /list takes no arguments, got 1/,
    );
    throwsUsage(
      () => parseChallengeArgs(["set", "a", "b", "--ttl", "0.5s"]),
      "bad-value",
      /^--ttl: "0\.5s" is not a duration of 1s or more/,
      "--ttl",
    );
    throwsUsage(
      () => parseChallengeArgs(["list", "--ttl", "1m"]),
      "bad-value",
      /^--ttl: only applies to set$/,
      "--ttl",
    );
    throwsUsage(
      () => parseChallengeArgs(["list", "--listen", "x"]),
      "unknown-flag",
      /"--listen"/,
      "--listen",
    );
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

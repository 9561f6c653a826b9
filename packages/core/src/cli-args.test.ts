import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseArgs, parseChallengeArgs, parseCli, UsageError, type UsageErrorCode } from "./cli-args.ts";

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
        value: "-tok.thumb",
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

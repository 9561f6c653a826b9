import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  limitReached,
  loadConfig,
  MAX_TIMEOUT_MS,
  parseConfig,
} from "./config.ts";

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
  test("drop-in defaults: no-SNI hellos routed, no per-address cap, any record count, auto logs", () => {
    const c = loadConfig(DEFAULT_CONFIG_YAML);
    assert.equal(c.onNoSni, "route");
    assert.equal(c.limits.maxConnectionsPerIp, 0);
    assert.equal(c.limits.maxHelloConnectionsPerIp, 64, "the hello-phase cap stays");
    assert.equal(c.maxHelloBytes, 16384);
    assert.equal(c.maxHelloRecords, 0);
    assert.equal(c.log.format, "auto");
    assert.deepEqual(parseConfig({ default: "reject" }).limits, {
      maxConnections: 10_000,
      maxConnectionsPerIp: 0,
      maxHelloConnections: 2_000,
      maxHelloConnectionsPerIp: 64,
    });
  });
  test("old files keep working: onNoSni close, a per-address cap, maxHelloRecords, log format json", () => {
    const c = loadConfig(
      [
        "onNoSni: close",
        "maxHelloRecords: 16",
        "limits: { maxConnectionsPerIp: 512 }",
        "log: { format: json }",
        'default: { upstream: "127.0.0.1:8443" }',
      ].join("\n"),
    );
    assert.deepEqual(
      [c.onNoSni, c.maxHelloRecords, c.limits.maxConnectionsPerIp, c.log.format],
      ["close", 16, 512, "json"],
    );
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
  for (const field of ["helloTimeout", "connectTimeout", "drainTimeout"] as const) {
    for (const zero of ["0s", "0ms", 0, "0.0001s"]) {
      test(`${field}: ${JSON.stringify(zero)} is refused, naming the field`, () => {
        const i = issues({ [field]: zero, default: "reject" });
        assert.equal(i.length, 1);
        assert.equal(i[0]?.path, field);
        assert.match(i[0]?.message ?? "", /not more than 0/);
      });
    }
  }
  test("a target's connectTimeout and the Redis timeout must be more than 0 too", () => {
    const i = issues({
      routes: [{ match: { sni: ["a.example"] }, target: { upstream: "127.0.0.1:1", connectTimeout: "0s" } }],
      default: { upstream: "127.0.0.1:2", connectTimeout: 0 },
      challenges: { store: "redis", redis: { url: "redis://127.0.0.1:6379", timeout: "0ms" } },
    });
    assert.deepEqual(i.map((x) => x.path).sort(), [
      "challenges.redis.timeout",
      "default.connectTimeout",
      "routes[0].target.connectTimeout",
    ]);
  });
  test("a duration longer than a timer can wait is refused", () => {
    assert.equal(
      parseConfig({ helloTimeout: MAX_TIMEOUT_MS, default: "reject" }).helloTimeout,
      MAX_TIMEOUT_MS,
    );
    const i = issues({ drainTimeout: "600h", default: "reject" });
    assert.equal(i[0]?.path, "drainTimeout");
    assert.match(i[0]?.message ?? "", /longest timer/);
  });
  test("limits: maxConnectionsPerIp takes 0 (no cap) or more; the other limits stay positive", () => {
    assert.equal(
      issues({ limits: { maxConnectionsPerIp: -1 }, default: "reject" })[0]?.path,
      "limits.maxConnectionsPerIp",
    );
    assert.equal(
      issues({ limits: { maxHelloConnectionsPerIp: 0 }, default: "reject" })[0]?.path,
      "limits.maxHelloConnectionsPerIp",
    );
    assert.equal(issues({ maxHelloRecords: -1, default: "reject" })[0]?.path, "maxHelloRecords");
  });
  const badPatterns: [string, RegExp][] = [
    ["a.*.example", /"\*" may only be the whole left-most label/],
    ["*", /lone "\*"/],
    ["a..example", /empty label/],
    ["", /is empty/],
    ["a b.example", /visible ASCII/],
    ["bücher.example", /visible ASCII/],
    ["example.com.", /ends with a dot/],
    [`${"a".repeat(64)}.example`, /more than 63/],
  ];
  for (const [pattern, why] of badPatterns) {
    test(`an SNI pattern ${JSON.stringify(pattern.slice(0, 20))} is a config error at its path`, () => {
      const ok = { match: { sni: ["a_b.example", "*.example"] }, target: "reject" };
      const i = issues({
        routes: [ok, ok, { match: { sni: ["fine.example", pattern] }, target: "reject" }],
        default: "reject",
      });
      assert.equal(i.length, 1);
      assert.equal(i[0]?.path, "routes[2].match.sni[1]");
      assert.match(i[0]?.message ?? "", /^Cannot parse host pattern /);
      assert.match(i[0]?.message ?? "", why);
    });
  }
  test("loadConfig() refuses a bad SNI pattern the same way (check, startup and reload agree)", () => {
    assert.throws(
      () =>
        loadConfig(
          'routes: [{ match: { sni: ["a.*.example"] }, target: reject }]\ndefault: reject',
          "x.yaml",
        ),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.code === "invalid-config" &&
        e.issues[0]?.path === "routes[0].match.sni[0]" &&
        /^Invalid x\.yaml:\n {2}routes\[0\]\.match\.sni\[0\]: Cannot parse host pattern/.test(e.message),
    );
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

describe("challenges.ualpnSocket", () => {
  const ualpn = (v: unknown) =>
    parseConfig({ default: "reject", challenges: { ualpnSocket: v } }).challenges.ualpnSocket;

  test("a path, or { path, mode, owner, group }; mode defaults to 0600", () => {
    assert.deepEqual(ualpn("/run/ualpn.sock"), { path: "/run/ualpn.sock", mode: "0600" });
    assert.deepEqual(ualpn({ path: "/run/ualpn.sock", mode: "660", owner: "alpnmux", group: 998 }), {
      path: "/run/ualpn.sock",
      mode: "0660",
      owner: "alpnmux",
      group: 998,
    });
    assert.deepEqual(ualpn({ path: "/s", mode: "0o640", group: "1000" }), {
      path: "/s",
      mode: "0640",
      group: "1000",
    });
    assert.equal(parseConfig({ default: "reject" }).challenges.ualpnSocket, undefined);
  });

  test("loadConfig() reads a quoted mode from YAML; an unquoted one is refused with advice", () => {
    const yaml = (mode: string) =>
      `default: reject\nchallenges:\n  ualpnSocket: { path: /run/ualpn.sock, mode: ${mode} }\n`;
    assert.equal(loadConfig(yaml('"0660"')).challenges.ualpnSocket?.mode, "0660");
    assert.throws(
      () => loadConfig(yaml("0660")),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues[0]?.path === "challenges.ualpnSocket.mode" &&
        /quoted octal string, like "0660" \(unquoted, YAML reads 660 as a decimal number\)/.test(
          e.issues[0]?.message ?? "",
        ),
    );
  });

  test("bad values are config errors at their path", () => {
    const cases: [unknown, string, RegExp][] = [
      ["", "challenges.ualpnSocket", /is empty/],
      [
        `/${"a".repeat(110)}`,
        "challenges.ualpnSocket",
        /111 bytes, more than a unix socket path holds \(107\)/,
      ],
      [{ path: "/s", mode: "0999" }, "challenges.ualpnSocket.mode", /not a file mode/],
      [{ path: "/s", mode: "01777" }, "challenges.ualpnSocket.mode", /not a file mode/],
      [
        { path: "/s", owner: "no spaces" },
        "challenges.ualpnSocket.owner",
        /user or group name, or a numeric id/,
      ],
      [{ path: "/s", group: -1 }, "challenges.ualpnSocket.group", /user or group name, or a numeric id/],
      [{ mode: "0600" }, "challenges.ualpnSocket.path", /is required/],
      [{ path: "/s", sock: 1 }, "challenges.ualpnSocket", /Unrecognized key: "sock"/],
      [
        42,
        "challenges.ualpnSocket",
        /expected a socket path, or \{ path, mode\?: "0600", owner\?, group\? \}/,
      ],
    ];
    for (const [value, path, message] of cases) {
      const i = issues({ default: "reject", challenges: { ualpnSocket: value } });
      assert.equal(i.length, 1, JSON.stringify(i));
      assert.equal(i[0]?.path, path, JSON.stringify(value));
      assert.match(i[0]?.message ?? "", message, JSON.stringify(value));
    }
  });

  test("the checked form parses again to itself (PUT /v1/routes re-checks the whole config)", () => {
    const once = parseConfig({
      default: "reject",
      challenges: { ualpnSocket: { path: "/s", mode: "640", group: "acme" } },
    });
    assert.deepEqual(
      parseConfig({ default: "reject", challenges: once.challenges }).challenges,
      once.challenges,
    );
  });
});

describe("limitReached()", () => {
  test("0 is no cap; a positive cap is reached at the cap", () => {
    assert.equal(limitReached(0, 0), false);
    assert.equal(limitReached(1_000_000, 0), false);
    assert.equal(limitReached(0, 1), false);
    assert.equal(limitReached(1, 1), true);
    assert.equal(limitReached(511, 512), false);
    assert.equal(limitReached(512, 512), true);
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildHello } from "../testing/hello-builder.ts";
import type { ClientHello } from "./clienthello-types.ts";
import { parseConfig, type RouterConfigInput } from "./config.ts";
import { isAcmeHello, RouteTable } from "./policy.ts";
import { sniffHello } from "./sniff.ts";

function hello(sni: string | null, alpn: string[] | null, ech = false): ClientHello {
  const r = sniffHello(buildHello({ sni, alpn, ech }));
  if (r.kind !== "hello") throw new Error(r.kind);
  return r.hello;
}

function table(input: RouterConfigInput): RouteTable {
  return new RouteTable(parseConfig(input));
}

const seed = table({
  routes: [{ name: "acme", match: { acme: "exact" }, target: { upstream: "127.0.0.1:10443" } }],
  default: { upstream: "127.0.0.1:8443", proxy: "v2", tlvs: ["authority", "alpn"] },
});

describe("RouteTable.decide()", () => {
  test("sends ALPN exactly [acme-tls/1] to the ACME route, without a PROXY header", () => {
    const d = seed.decide(hello("a.example", ["acme-tls/1"]));
    assert.equal(d.action, "forward");
    if (d.action === "forward") {
      assert.equal(d.route, "acme");
      assert.deepEqual(d.upstream, { host: "127.0.0.1", port: 10443 });
      assert.equal(d.proxy, "none");
    }
  });

  test("acme exact: acme-tls/1 among other protocols goes to the default", () => {
    assert.equal(seed.decide(hello("a.example", ["h2", "acme-tls/1"])).route, "default");
  });

  test("acme contains: acme-tls/1 anywhere in the list matches", () => {
    const t = table({
      routes: [{ name: "acme", match: { acme: "contains" }, target: { upstream: "127.0.0.1:1" } }],
      default: "reject",
    });
    assert.equal(t.decide(hello("a.example", ["h2", "acme-tls/1"])).route, "acme");
    assert.equal(t.decide(hello("a.example", ["h2"])).route, "default");
  });

  test("no ALPN and other ALPN go to the default with PROXY v2 and TLVs", () => {
    for (const alpn of [null, ["h2", "http/1.1"]]) {
      const d = seed.decide(hello("www.example", alpn));
      assert.equal(d.route, "default");
      if (d.action === "forward") {
        assert.equal(d.proxy, "v2");
        assert.deepEqual(d.tlvs, ["authority", "alpn"]);
      }
    }
  });

  test("a hello without SNI goes to the default by default (onNoSni: route)", () => {
    const d = seed.decide(hello(null, ["h2"]));
    assert.deepEqual([d.action, d.route], ["forward", "default"]);
  });

  test("onNoSni: close refuses a hello without SNI, before any route", () => {
    const t = table({
      onNoSni: "close",
      routes: [{ name: "bare", match: { noSni: true }, target: { upstream: "127.0.0.1:2" } }],
      default: { upstream: "127.0.0.1:3" },
    });
    const d = t.decide(hello(null, ["h2"]));
    assert.deepEqual([d.action, d.route], ["reject", "no-sni"]);
    assert.equal(t.decide(hello("a.example", null)).route, "default");
  });

  test("a route for a_b.example matches a hello whose SNI is a_b.example (one host-name rule)", () => {
    const t = table({
      routes: [
        { name: "under", match: { sni: ["a_b.example"] }, target: { upstream: "127.0.0.1:1" } },
        { name: "wild", match: { sni: ["*._svc.example"] }, target: { upstream: "127.0.0.1:2" } },
      ],
      default: "reject",
    });
    assert.equal(t.decide(hello("A_B.example", null)).route, "under");
    assert.equal(t.decide(hello("x_1._svc.example", null)).route, "wild");
  });

  test("onNoSni: route sends SNI-less hellos through the table, where noSni matches", () => {
    const t = table({
      onNoSni: "route",
      routes: [{ name: "bare", match: { noSni: true }, target: { upstream: "127.0.0.1:2" } }],
      default: { upstream: "127.0.0.1:3" },
    });
    assert.equal(t.decide(hello(null, null)).route, "bare");
    assert.equal(t.decide(hello("a.example", null)).route, "default");
  });

  test("routes are tried in order, first match wins; matchers in a route are ANDed", () => {
    const t = table({
      routes: [
        {
          name: "h2-api",
          match: { sni: ["api.example"], alpn: ["h2"] },
          target: { upstream: "127.0.0.1:1" },
        },
        { name: "wild", match: { sni: ["*.example"] }, target: { upstream: "127.0.0.1:2" } },
        { name: "never", match: { sni: ["api.example"] }, target: { upstream: "127.0.0.1:3" } },
      ],
      default: { upstream: "127.0.0.1:4" },
    });
    assert.equal(t.decide(hello("api.example", ["h2"])).route, "h2-api");
    assert.equal(t.decide(hello("api.example", ["http/1.1"])).route, "wild");
    assert.equal(t.decide(hello("a.b.example", null)).route, "default", "* matches one label only");
    assert.equal(t.decide(hello("example", null)).route, "default");
  });

  test("ech matcher and reject target", () => {
    const t = table({
      routes: [{ name: "no-ech", match: { ech: true }, target: "reject" }],
      default: { upstream: "127.0.0.1:4" },
    });
    const d = t.decide(hello("public.example", ["h2"], true));
    assert.deepEqual([d.action, d.route], ["reject", "no-ech"]);
    assert.equal(t.decide(hello("public.example", ["h2"], false)).route, "default");
  });

  test("acme builtin target carries its fallback", () => {
    const t = table({
      routes: [
        { match: { acme: true }, target: { acme: "builtin", fallback: { upstream: "127.0.0.1:10443" } } },
      ],
      default: "reject",
    });
    const d = t.decide(hello("a.example", ["acme-tls/1"]));
    assert.equal(d.action, "acme-builtin");
    if (d.action === "acme-builtin") assert.deepEqual(d.fallback, { host: "127.0.0.1", port: 10443 });
    assert.equal(d.route, "route-0", "unnamed routes get their index as name");
  });

  test("decideNotTls() follows onNotTls", () => {
    assert.equal(seed.decideNotTls().action, "reject");
    const t = table({ onNotTls: "default", default: { upstream: "127.0.0.1:4" } });
    assert.equal(t.decideNotTls().action, "forward");
  });
});

describe("isAcmeHello()", () => {
  test("exact and contains modes, and no ALPN", () => {
    assert.equal(isAcmeHello(hello("a.example", ["acme-tls/1"])), true);
    assert.equal(isAcmeHello(hello("a.example", ["acme-tls/1", "h2"])), false);
    assert.equal(isAcmeHello(hello("a.example", ["acme-tls/1", "h2"]), "contains"), true);
    assert.equal(isAcmeHello(hello("a.example", null), "contains"), false);
  });
  test("an RFC 8738 reverse-DNS SNI is a validation too", () => {
    assert.equal(seed.decide(hello("1.0.0.127.in-addr.arpa", ["acme-tls/1"])).route, "acme");
  });
});

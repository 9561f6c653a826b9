import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, DEFAULT_CONFIG_YAML, loadConfig, parseConfig } from "../config.ts";
import { applyRunFlags } from "../run-flags.ts";
import { certificatesSchema } from "./schema.ts";

const ROUTE = { name: "acme", match: { acme: "exact" }, target: { acme: "builtin" } };

function issues(doc: Record<string, unknown>): { path: string; message: string }[] {
  try {
    parseConfig({ default: "reject", routes: [ROUTE], ...doc });
  } catch (e) {
    if (e instanceof ConfigError) return [...e.issues];
    throw e;
  }
  return [];
}

describe("config: acme and certificates", () => {
  test("defaults: Let's Encrypt, /var/lib/alpnmux, ecdsa-p256, no certificates (the embedded default still loads)", () => {
    const c = parseConfig({
      default: "reject",
      routes: [ROUTE],
      certificates: [
        { name: "web", identifiers: ["example.com", "203.0.113.7", "2001:db8::1"], out: "/etc/ssl/web" },
      ],
    });
    assert.equal(c.acme.directory, "https://acme-v02.api.letsencrypt.org/directory");
    assert.equal(c.acme.storage, "/var/lib/alpnmux");
    assert.equal(c.certificates[0]?.keyType, "ecdsa-p256");
    assert.deepEqual(c.certificates[0]?.identifiers, ["example.com", "203.0.113.7", "2001:db8::1"]);
    assert.deepEqual(loadConfig(DEFAULT_CONFIG_YAML).certificates, []);
    // A checked config parses again (PUT /v1/routes merges and re-parses it).
    assert.deepEqual(certificatesSchema.parse(c.certificates), c.certificates);
  });

  test("every field of the issue's example is accepted", () => {
    const c = parseConfig({
      default: "reject",
      routes: [ROUTE],
      acme: {
        directory: "https://acme-v02.api.letsencrypt.org/directory",
        email: "admin@example.com",
        caCertificates: "/etc/alpnmux/ca.pem",
        eab: { keyId: "kid-1", hmacKey: "c2VjcmV0LWhtYWMta2V5" },
        profile: "shortlived",
        storage: "/var/lib/alpnmux",
      },
      certificates: [
        {
          name: "web",
          identifiers: ["example.com", "www.example.com", "203.0.113.7"],
          out: "/etc/ssl/alpnmux/web",
          deploy: "systemctl reload nginx",
          keyType: "rsa-3072",
          profile: "classic",
        },
      ],
    });
    assert.equal(c.acme.eab?.keyId, "kid-1");
    assert.equal(c.certificates[0]?.profile, "classic");
  });

  test("errors name the path and the reason", () => {
    const got = issues({
      acme: { directory: "not a url", email: "nobody" },
      certificates: [
        { name: "web", identifiers: ["example.com"], out: "/o/web" },
        {
          name: "web",
          identifiers: ["exa mple.com", "*.example.com", "Example.com", "example.com"],
          keyType: "ed25519",
        },
        { name: "../x", identifiers: [], out: "/o/x" },
      ],
    });
    const by = Object.fromEntries(got.map((i) => [i.path, i.message]));
    assert.equal(by["acme.directory"], "is not an http(s) URL");
    assert.equal(by["acme.email"], "is not an email address");
    assert.equal(by["certificates[1].identifiers[0]"], '"exa mple.com" is not a DNS name or IP address');
    assert.match(
      by["certificates[1].identifiers[1]"] ?? "",
      /wildcard: TLS-ALPN-01 cannot validate wildcard names/,
    );
    assert.equal(by["certificates[1].identifiers[3]"], '"example.com" repeats identifiers[2]');
    assert.equal(by["certificates[1].out"], "is required");
    assert.match(by["certificates[1].keyType"] ?? "", /ecdsa-p256/);
    assert.match(by["certificates[2].name"] ?? "", /names a directory/);
    assert.equal(by["certificates[2].identifiers"], "needs at least one DNS name or IP address");
  });

  test("duplicate names are refused", () => {
    const cert = { identifiers: ["example.com"], out: "/o" };
    assert.deepEqual(
      issues({
        certificates: [
          { name: "web", ...cert },
          { name: "mail", ...cert },
          { name: "web", ...cert },
        ],
      }),
      [{ path: "certificates[2].name", message: '"web" is already the name of certificates[0]' }],
    );
  });

  test("certificates need the built-in responder: a route with target acme: builtin, or --acme builtin", () => {
    const cert = { name: "web", identifiers: ["example.com"], out: "/o" };
    try {
      parseConfig({ default: "reject", certificates: [cert] });
      assert.fail("accepted");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.issues, [
        { path: "certificates", message: "needs the built-in responder (a route with target acme: builtin)" },
      ]);
    }
    const doc = applyRunFlags({ default: "reject", certificates: [cert] }, { listen: [], acme: "builtin" });
    assert.equal(parseConfig(doc).certificates.length, 1);
    assert.throws(
      () =>
        parseConfig(
          applyRunFlags({ default: "reject", certificates: [cert] }, { listen: [], acme: "127.0.0.1:10443" }),
        ),
      ConfigError,
    );
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryCertHost } from "../../testing/fake-certs.ts";
import { createInstance } from "../app.ts";
import { ConfigError, parseConfig } from "../config.ts";

const TOKEN = "test-token-0123456789abcdef";

function config(acme: Record<string, unknown> = {}) {
  return parseConfig({
    listen: ["127.0.0.1:8443"],
    default: "reject",
    routes: [{ name: "acme", match: { acme: "exact" }, target: { acme: "builtin" } }],
    admin: { token: TOKEN },
    acme: { directory: "https://ca.test/dir", storage: "/s", ...acme },
    certificates: [{ name: "web", identifiers: ["example.com"], out: "/o/web" }],
  });
}

const problem = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues[0];
    throw e;
  }
  return undefined;
};

describe("createInstance with certificates", () => {
  test("builds the manager for the admin API; its status is listed and its metrics registered", async () => {
    const host = new MemoryCertHost();
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const instance = createInstance({
      config: config({ caCertificates: "/etc/alpnmux/ca.pem" }),
      certs: host,
      readFile: (p) => (p === "/etc/alpnmux/ca.pem" ? pem : ""),
    });
    assert.ok(instance.certificates);
    assert.deepEqual(host.cas, [pem], "the CA's fetch trusts acme.caCertificates");
    const res = await instance.admin?.app.request("/v1/certificates", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res?.json()) as { certificates: { name: string; state: string }[] };
    assert.deepEqual(
      body.certificates.map((s) => [s.name, s.state]),
      [["web", "pending"]],
    );
    assert.match(
      instance.router.metrics.registry.render(),
      /# TYPE alpnmux_certificate_renewals_total counter/,
    );
  });

  test("a worker (no admin API) has no manager", () => {
    const instance = createInstance({ config: config(), admin: false });
    assert.equal(instance.certificates, null);
    assert.doesNotMatch(instance.router.metrics.registry.render(), /alpnmux_certificate_/);
  });

  test("clear errors: a runtime without CertHost, an unreadable or non-PEM acme.caCertificates", () => {
    assert.deepEqual(
      problem(() => createInstance({ config: config() })),
      {
        path: "certificates",
        message: "needs HTTPS to the CA, files and a shell, which this runtime does not offer",
      },
    );
    const unreadable = problem(() =>
      createInstance({
        config: config({ caCertificates: "/nope.pem" }),
        certs: new MemoryCertHost(),
        readFile: () => {
          throw new Error("ENOENT: no such file");
        },
      }),
    );
    assert.equal(unreadable?.path, "acme.caCertificates");
    assert.match(unreadable?.message ?? "", /cannot read \/nope\.pem: ENOENT/);
    const notPem = problem(() =>
      createInstance({
        config: config({ caCertificates: "/x" }),
        certs: new MemoryCertHost(),
        readFile: () => "hello",
      }),
    );
    assert.equal(notPem?.path, "acme.caCertificates");
    assert.match(notPem?.message ?? "", /holds no PEM certificate/);
  });
});

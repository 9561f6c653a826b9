import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildHello, buildHelloMessage, frame } from "../testing/hello-builder.ts";
import { helloReport, versionName } from "./hello-report.ts";

describe("helloReport()", () => {
  test("a hello: sni, alpn, ech, versions, bytes, records", () => {
    const bytes = frame(buildHelloMessage({ sni: "a.example", alpn: ["acme-tls/1"], ech: true }), [50]);
    const { report, exitCode } = helloReport(new Uint8Array([...bytes, 20, 3, 3, 0, 1, 1]));
    assert.equal(exitCode, 0);
    assert.deepEqual(report, {
      sni: "a.example",
      alpn: ["acme-tls/1"],
      ech: true,
      versions: ["TLSv1.3", "TLSv1.2"],
      bytes: bytes.length,
      records: 2,
    });
  });
  test("without supported_versions the legacy version is reported", () => {
    const { report } = helloReport(buildHello({ versions: null, legacyVersion: 0x0303 }));
    assert.deepEqual("versions" in report && report.versions, ["TLSv1.2"]);
  });
  test("errors carry code, offset and message; exit 1", () => {
    const r = helloReport(buildHello({ sni: "bad name.example" }));
    assert.equal(r.exitCode, 1);
    assert.equal("error" in r.report && r.report.error, "server-name-bad-character");
    assert.ok("offset" in r.report && r.report.offset > 5);
    const t = helloReport(buildHello().subarray(0, 40));
    assert.deepEqual([t.exitCode, "error" in t.report && t.report.error], [1, "truncated"]);
    const n = helloReport(new TextEncoder().encode("SSH-2.0-OpenSSH"));
    assert.equal("error" in n.report && n.report.error, "not-tls");
  });
  test("versionName()", () => {
    assert.equal(versionName(0x0304), "TLSv1.3");
    assert.equal(versionName(0x7f1c), "0x7f1c");
  });
});

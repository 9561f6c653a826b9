import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../config.ts";
import { missingPermissions, needsRun, writablePaths } from "./paths.ts";

const two = {
  acme: { storage: "/var/lib/alpnmux" },
  certificates: [
    { out: "/etc/ssl/alpnmux/web", deploy: "systemctl reload nginx" },
    { out: "/etc/ssl/alpnmux/mail" },
  ],
};

describe("writablePaths()", () => {
  test("storage first, then each out, with the field that names it", () => {
    assert.deepEqual(writablePaths(two), [
      { field: "acme.storage", path: "/var/lib/alpnmux" },
      { field: "certificates[0].out", path: "/etc/ssl/alpnmux/web" },
      { field: "certificates[1].out", path: "/etc/ssl/alpnmux/mail" },
    ]);
  });

  test("no certificates: nothing is written, not even the storage", () => {
    assert.deepEqual(writablePaths({ acme: { storage: "/var/lib/alpnmux" }, certificates: [] }), []);
  });

  test("reads a checked config: the default storage when acme.storage is not given", () => {
    const config = parseConfig({
      default: { upstream: "127.0.0.1:8443" },
      routes: [{ name: "acme", match: { acme: "exact" }, target: { acme: "builtin" } }],
      certificates: [{ name: "web", identifiers: ["example.com"], out: "/srv/certs/web" }],
    });
    assert.deepEqual(
      writablePaths(config).map((p) => p.path),
      ["/var/lib/alpnmux", "/srv/certs/web"],
    );
    assert.equal(needsRun(config), false);
  });
});

describe("needsRun()", () => {
  test("true only when some certificate has deploy", () => {
    assert.equal(needsRun(two), true);
    assert.equal(needsRun({ ...two, certificates: [{ out: "/o" }] }), false);
  });
});

describe("missingPermissions()", () => {
  test("names each field whose path may not be written, and each deploy when sh may not run", () => {
    const asked: string[] = [];
    const missing = missingPermissions(two, {
      write: (p) => {
        asked.push(p);
        return p === "/etc/ssl/alpnmux/mail";
      },
      run: (c) => {
        asked.push(`run:${c}`);
        return false;
      },
    });
    assert.deepEqual(missing, [
      { field: "acme.storage", kind: "write", target: "/var/lib/alpnmux" },
      { field: "certificates[0].out", kind: "write", target: "/etc/ssl/alpnmux/web" },
      { field: "certificates[0].deploy", kind: "run", target: "sh" },
    ]);
    assert.deepEqual(asked, ["/var/lib/alpnmux", "/etc/ssl/alpnmux/web", "/etc/ssl/alpnmux/mail", "run:sh"]);
  });

  test("everything granted: nothing missing; run is not asked without deploy", () => {
    let runAsked = false;
    const granted = {
      write: () => true,
      run: () => {
        runAsked = true;
        return true;
      },
    };
    assert.deepEqual(missingPermissions(two, granted), []);
    assert.equal(runAsked, true);
    runAsked = false;
    assert.deepEqual(missingPermissions({ ...two, certificates: [{ out: "/o" }] }, granted), []);
    assert.equal(runAsked, false);
  });
});

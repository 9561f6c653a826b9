/**
 * @module certificates-workers.test — `workers: 2` with a certificate (Bun and Deno CLI,
 * Pebble): only the primary runs the certificate manager (it owns the challenge store the
 * workers ask), the validations reach the workers and are answered, the certificate is
 * issued once, and `/metrics` (the primary's registry summed with its workers') shows the
 * certificate metrics exactly once.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { adminFetch } from "../_harness/admin.ts";
import { startHttpsBackend } from "../_harness/backends.ts";
import { certList, pebbleAcme, startCertRouter, waitStatus } from "../_harness/cert-e2e.ts";
import { createCA, issueCert } from "../_harness/certs.ts";
import { startPebble } from "../_harness/pebble.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("certificates-workers", after);

test("workers: 2: the primary orders once, the workers answer the validations, metrics once", {
  timeout: 90_000,
}, async () => {
  const pebble = await startPebble(ws);
  const ca = createCA(ws.subdir("pki"));
  const backend = await startHttpsBackend(ws, { name: "web", cert: issueCert(ca, ["web.workers.test"]) });
  const out = path.join(ws.dir, "out");
  const config = {
    workers: 2,
    acme: pebbleAcme(pebble, path.join(ws.dir, "storage")) as { storage: string },
    certificates: [{ name: "w", identifiers: ["w1.workers.test", "127.0.0.1"], out }],
  };
  const r = await startCertRouter(ws, { pebble, def: backend.port, config, label: "alpnmux-workers" });
  try {
    const s = await waitStatus(r, "w", (x) => x.state === "valid", 60_000);
    assert.equal(s.lastResult?.outcome, "issued");
    assert.deepEqual([...(s.certificate?.identifiers ?? [])].sort(), ["127.0.0.1", "w1.workers.test"]);
    assert.ok(fs.existsSync(path.join(out, "fullchain.pem")));
    assert.equal(fs.statSync(path.join(out, "privkey.pem")).mode & 0o777, 0o600);
    assert.equal((await certList(r)).length, 1);
    const m = await adminFetch(r, "GET", "/metrics");
    assert.equal(m.status, 200);
    const notAfter = m.text.split("\n").filter((l) => l.startsWith("alpnmux_certificate_not_after_seconds{"));
    assert.deepEqual(notAfter, [
      `alpnmux_certificate_not_after_seconds{name="w"} ${Date.parse(s.certificate?.notAfter ?? "") / 1000}`,
    ]);
    assert.match(m.text, /\nalpnmux_certificate_renewals_total\{name="w",result="issued"\} 1\n/);
    // Served by the workers (the primary has no listeners): one validation task, 3 connections.
    const served = r.logs().filter((l) => {
      const p = l["properties"] as { outcome?: unknown; worker?: unknown } | undefined;
      return p?.outcome === "challenge-served" && typeof p.worker === "number";
    });
    assert.ok(served.length >= 3, `challenge-served lines from workers: ${served.length}`);
  } finally {
    await r.stop();
  }
});

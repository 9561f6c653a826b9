/**
 * @module reload.test — SIGHUP reloads the config file without dropping connections: a live
 * spliced connection keeps its backend, new connections follow the new table, and a bad file
 * is refused with the path and reason while the running table stays; a bad SNI pattern is
 * refused the same way and the process stays up (on Bun and Deno alike).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import { startCaptureBackend } from "../_harness/backends.ts";
import { hello, startRouter } from "../_harness/e2e-kit.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("reload", after);

function openConn(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => resolve(s));
    s.on("error", reject);
  });
}

test("SIGHUP swaps the routes for new connections, keeps live ones, refuses a bad file", {
  timeout: 30_000,
}, async () => {
  const a = await startCaptureBackend(ws, { greeting: "A" });
  const b = await startCaptureBackend(ws, { greeting: "B" });
  const router = await startRouter(ws, {
    label: "reload",
    config: { default: { upstream: `127.0.0.1:${a.port}` } },
  });
  const file = path.join(ws.dir, "reload.yaml");
  const h = hello("curl-http2");
  const greetingOf = (s: net.Socket) => new Promise<string>((r) => s.once("data", (d) => r(d.toString())));

  const live = await openConn(router.port);
  live.write(h);
  assert.equal(await greetingOf(live), "A");

  fs.writeFileSync(file, JSON.stringify({ default: { upstream: `127.0.0.1:${b.port}` } }));
  router.proc.child.kill("SIGHUP");
  await router.waitForLog((l) => String(l["message"]).startsWith("reloaded"), 5000);

  const fresh = await openConn(router.port);
  fresh.write(h);
  assert.equal(await greetingOf(fresh), "B", "new connections use the new table");

  live.write("still A");
  await a.waitForBytes(0, h.length + 7);
  assert.equal(
    a.connections[0]?.data.subarray(h.length).toString(),
    "still A",
    "the live connection kept its backend",
  );

  fs.writeFileSync(file, "default: { upstream: 127.0.0.1 }\nlisten: [");
  router.proc.child.kill("SIGHUP");
  const refused = await router.waitForLog((l) => String(l["message"]).startsWith("reload refused"), 5000);
  assert.match(String(refused["message"]), /reload refused/);
  fs.writeFileSync(file, JSON.stringify({ default: { upstream: "127.0.0.1" } }));
  router.proc.child.kill("SIGHUP");
  const refused2 = await router.waitForLog(
    (l) => String(l["message"]).startsWith("reload refused") && String(l["message"]).includes("has no port"),
    5000,
  );
  assert.match(String(refused2["message"]), /default\.upstream/);
  const third = await openConn(router.port);
  third.write(h);
  assert.equal(await greetingOf(third), "B", "the running table stays after a bad file");
  for (const s of [live, fresh, third]) s.destroy();
});

test("SIGHUP with a bad SNI pattern is refused with its path; the process stays up and the old routes still route", {
  timeout: 30_000,
}, async () => {
  const web = await startCaptureBackend(ws, { greeting: "web" });
  const other = await startCaptureBackend(ws, { greeting: "other" });
  const table = (sni: string, upstream: number) => ({
    routes: [{ name: "web", match: { sni: [sni] }, target: { upstream: `127.0.0.1:${upstream}` } }],
    default: { upstream: `127.0.0.1:${other.port}` },
  });
  const router = await startRouter(ws, { label: "bad-pattern", config: table("*.example.test", web.port) });
  const file = path.join(ws.dir, "bad-pattern.yaml");
  const h = hello("curl-http2"); // SNI a.example.test
  const greetingOf = (s: net.Socket) => new Promise<string>((r) => s.once("data", (d) => r(d.toString())));

  const live = await openConn(router.port);
  live.write(h);
  assert.equal(await greetingOf(live), "web");

  fs.writeFileSync(file, JSON.stringify(table("a.*.example.test", other.port)));
  router.proc.child.kill("SIGHUP");
  const refused = await router.waitForLog((l) => String(l["message"]).startsWith("reload refused"), 5000);
  assert.match(String(refused["message"]), /routes\[0\]\.match\.sni\[0\]/, "the path of the bad pattern");
  assert.match(String(refused["message"]), /a\.\*\.example\.test/, "the pattern itself");
  assert.equal(refused["level"], "ERROR");

  await new Promise((r) => setTimeout(r, 200));
  assert.equal(router.proc.exitStatus(), undefined, "the process is still running");
  const fresh = await openConn(router.port);
  fresh.write(h);
  assert.equal(await greetingOf(fresh), "web", "new connections still follow the old table");

  // The live connection still carries bytes both ways.
  live.write("after the refused reload");
  await web.waitForBytes(0, h.length + 24);
  assert.equal(web.connections[0]?.data.subarray(h.length).toString(), "after the refused reload");
  web.connections[0]?.socket.write("still here");
  assert.equal(await greetingOf(live), "still here");

  // And the next good file is applied.
  fs.writeFileSync(file, JSON.stringify(table("*.example.test", other.port)));
  router.proc.child.kill("SIGHUP");
  await router.waitForLog((l) => String(l["message"]).startsWith("reloaded"), 5000);
  const third = await openConn(router.port);
  third.write(h);
  assert.equal(await greetingOf(third), "other");
  for (const s of [live, fresh, third]) s.destroy();
});

/**
 * @module workers.test — `--workers 2`: a primary (admin API, challenge store, config) and two
 * worker processes sharing the listen socket (SO_REUSEPORT), on Bun and Deno alike:
 * (a) a burst of acme-tls/1 validations (openssl s_client) for a challenge set through the
 * primary's admin API all succeed, served by both workers; (b) normal connections are routed;
 * (c) SIGHUP with a new file changes routing on both workers; (d) /metrics sums both;
 * (e) a worker killed with SIGKILL is restarted and connections still work; (f) SIGTERM on the
 * primary stops everything, status 0.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import { ADMIN_TOKEN, adminFetch, connLines, firstPem, metricValue, x509Text } from "../_harness/admin.ts";
import { startCaptureBackend } from "../_harness/backends.ts";
import { opensslClient } from "../_harness/clients.ts";
import { hello, sleep } from "../_harness/e2e-kit.ts";
import { freePort } from "../_harness/ports.ts";
import { workspace } from "../_harness/proc.ts";
import { type LogLine, spawnRouter } from "../_harness/router.ts";

const ws = workspace("workers", after);
const NAME = "a.workers.test";

/** Opens `n` connections at once, sends a hello on each, returns each backend greeting. */
async function greetings(port: number, n: number): Promise<string[]> {
  const h = hello("curl-http2");
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<string>((resolve, reject) => {
          const s = net.connect({ port, host: "127.0.0.1" }, () => s.write(h));
          s.once("data", (d) => {
            resolve(d.toString());
            s.destroy();
          });
          s.on("error", reject);
          setTimeout(() => reject(new Error("no greeting within 5 s")), 5000).unref();
        }),
    ),
  );
}

const props = (l: LogLine) => (l["properties"] ?? {}) as Record<string, unknown>;
const workerOf = (c: unknown) => (c as { worker?: number }).worker;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("--workers 2: validations and routing on both workers, SIGHUP, summed metrics, restart, SIGTERM", {
  timeout: 90_000,
}, async () => {
  const a = await startCaptureBackend(ws, { greeting: "A" });
  const b = await startCaptureBackend(ws, { greeting: "B" });
  const port = await freePort();
  const adminPort = await freePort();
  const file = path.join(ws.dir, "workers.yaml");
  const configFor = (upstream: number) =>
    JSON.stringify({ workers: 1, default: { upstream: `127.0.0.1:${upstream}` } });
  fs.writeFileSync(file, configFor(a.port));
  const router = await spawnRouter(
    ws,
    [
      "--config",
      file,
      "--workers",
      "2",
      "--listen",
      `127.0.0.1:${port}`,
      "--acme",
      "builtin",
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--log-format",
      "json",
    ],
    { label: "workers", env: { ALPNMUX_ADMIN_TOKEN: ADMIN_TOKEN }, waitPorts: [port, adminPort] },
  );
  const admin = { adminUrl: `http://127.0.0.1:${adminPort}`, token: ADMIN_TOKEN };
  await router.waitForLog((l) => String(l["message"]).startsWith("2 workers share"));
  const started = () =>
    router
      .logs()
      .filter((l) => l["logger"] === "alpnmux.workers" && String(l["message"]).includes("is serving"))
      .map((l) => ({ worker: Number(props(l)["worker"]), pid: Number(props(l)["pid"]) }));
  const first = started();
  assert.equal(new Set(first.map((w) => w.pid)).size, 2, JSON.stringify(first));
  assert.ok(!first.some((w) => w.pid === router.proc.pid), "the primary does not serve TCP itself");

  // (a) A burst of 10 validations for a challenge set on the primary, served by both workers.
  const put = await adminFetch(admin, "PUT", `/v1/challenges/${NAME}`, { value: "tok.thumb" });
  assert.equal(put.status, 201, put.text);
  const results = await Promise.all(
    Array.from({ length: 10 }, () =>
      opensslClient({ port, servername: NAME, alpn: ["acme-tls/1"], holdMs: 500 }),
    ),
  );
  for (const r of results) {
    assert.ok(r.handshake, r.stdout + r.stderr);
    assert.equal(r.alpn, "acme-tls/1");
    const pem = firstPem(r.stdout);
    assert.ok(pem, r.stdout);
    assert.match(x509Text(pem), /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
  }
  const deadline = Date.now() + 5000;
  let served = connLines(router).filter((c) => c.outcome === "challenge-served");
  while (served.length < 10 && Date.now() < deadline) {
    await sleep(50);
    served = connLines(router).filter((c) => c.outcome === "challenge-served");
  }
  assert.equal(served.length, 10, JSON.stringify(served));
  assert.equal(new Set(served.map(workerOf)).size, 2, "both workers answered validations");

  // (b) Normal connections are routed.
  const before = connLines(router).length;
  assert.deepEqual(await greetings(port, 10), Array(10).fill("A"));

  // (d) /metrics sums both workers.
  let text = "";
  for (let i = 0; i < 50; i++) {
    text = (await adminFetch(admin, "GET", "/metrics")).text;
    if (metricValue(text, 'alpnmux_connections_total{route="default",outcome="spliced"}') >= 10) break;
    await sleep(100);
  }
  assert.equal(metricValue(text, 'alpnmux_challenges_total{outcome="served"}'), 10, text);
  assert.equal(metricValue(text, 'alpnmux_connections_total{route="acme",outcome="challenge-served"}'), 10);
  assert.equal(metricValue(text, 'alpnmux_connections_total{route="default",outcome="spliced"}'), 10);
  assert.equal(metricValue(text, "alpnmux_hello_bytes_count"), 20);
  const routed = connLines(router).slice(before);
  assert.ok(new Set(routed.map(workerOf)).size >= 1);

  // (c) SIGHUP with a new file: every worker routes to B.
  fs.writeFileSync(file, configFor(b.port));
  router.proc.child.kill("SIGHUP");
  await router.waitForLog((l) => String(l["message"]).startsWith("reloaded"), 5000);
  for (const w of [1, 2]) {
    await router.waitForLog(
      (l) =>
        l["logger"] === "alpnmux.worker" &&
        props(l)["worker"] === w &&
        String(l["message"]).includes("new config"),
      5000,
    );
  }
  const afterReload = connLines(router).length;
  assert.deepEqual(await greetings(port, 12), Array(12).fill("B"));
  await sleep(300);
  const reloaded = connLines(router).slice(afterReload);
  assert.equal(new Set(reloaded.map(workerOf)).size, 2, "both workers routed with the new file");
  text = (await adminFetch(admin, "GET", "/metrics")).text;
  assert.equal(metricValue(text, 'alpnmux_config_reloads_total{result="ok"}'), 1, "a reload counts once");

  // A bad file is refused once, by the primary, with the path and the reason.
  fs.writeFileSync(file, JSON.stringify({ default: { upstream: "127.0.0.1" } }));
  router.proc.child.kill("SIGHUP");
  const refused = await router.waitForLog((l) => String(l["message"]).startsWith("reload refused"), 5000);
  assert.match(String(refused["message"]), /default\.upstream/);
  assert.deepEqual(await greetings(port, 4), Array(4).fill("B"));

  // (e) SIGKILL one worker: it is restarted (with a new pid) and connections still work.
  const victim = first[0] as { worker: number; pid: number };
  process.kill(victim.pid, "SIGKILL");
  await router.waitForLog((l) => String(l["message"]).includes("restarting it in"), 5000);
  const restarted = await router.waitForLog(
    (l) =>
      l["logger"] === "alpnmux.workers" &&
      String(l["message"]).includes("is serving") &&
      props(l)["worker"] === victim.worker &&
      props(l)["pid"] !== victim.pid,
    15_000,
  );
  assert.deepEqual(await greetings(port, 8), Array(8).fill("B"));
  const pids = [Number(props(restarted)["pid"]), ...first.filter((w) => w !== victim).map((w) => w.pid)];

  // (f) SIGTERM on the primary: every worker drains and exits, the primary exits 0.
  router.proc.child.kill("SIGTERM");
  const exit = await router.proc.exited;
  assert.equal(exit.code, 0, router.proc.output().slice(-2000));
  await sleep(200);
  for (const pid of pids) assert.equal(alive(pid), false, `worker pid ${pid} exited`);
});

/**
 * @module seed.test — THE seed scenario: alpnmux sits on Pebble's tls-alpn-01 port, sends
 * `acme-tls/1` to lego and everything else to an HTTPS backend. While lego obtains a certificate
 * through the router, a probe loop reaches the backend through the same port every 200 ms.
 * Pass = certificate issued with the right SAN, enough probes ran, and not one probe failed
 * (a probe routed to lego's challenge listener fails certificate verification).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startHttpsBackend } from "../_harness/backends.ts";
import { createCA, issueCert } from "../_harness/certs.ts";
import { curl, httpsRequest } from "../_harness/clients.ts";
import { runLego } from "../_harness/lego.ts";
import { startPebble } from "../_harness/pebble.ts";
import { freePort } from "../_harness/ports.ts";
import { workspace } from "../_harness/proc.ts";
import { spawnRouter } from "../_harness/router.ts";

const ws = workspace("seed", after);
const PROBE_EVERY_MS = 200;
const MIN_PROBES = 15;
/** Probes that must have run while lego was issuing (lego takes 2.5-7 s here). */
const MIN_PROBES_DURING_LEGO = 3;
const BACKEND_NAME = "backend.example.test";
// Offered ALPN lists rotate so the router sees no-ALPN, h1-only and h2-first hellos.
const ALPN_ROTATION: (string[] | undefined)[] = [undefined, ["http/1.1"], ["h2", "http/1.1"]];

test("lego issues a certificate through alpnmux while HTTPS traffic keeps flowing", {
  timeout: 90_000,
}, async () => {
  const ca = createCA(ws.subdir("pki"));
  const leaf = issueCert(ca, [BACKEND_NAME]);
  const pebble = await startPebble(ws);
  const backend = await startHttpsBackend(ws, { name: "web", cert: leaf });
  const legoPort = await freePort();
  const router = await spawnRouter(ws, [
    "--listen",
    `127.0.0.1:${pebble.tlsPort}`,
    "--acme",
    `127.0.0.1:${legoPort}`,
    "--default",
    `127.0.0.1:${backend.port}`,
    "--hello-timeout",
    "2s",
    "--log-format",
    "json",
    "--log-level",
    "debug",
  ]);

  const url = `https://${BACKEND_NAME}:${pebble.tlsPort}/`;
  const failures: string[] = [];
  let probes = 0;
  let stop = false;
  const probe = async (alpn: string[] | undefined): Promise<void> => {
    probes++;
    const n = probes;
    try {
      const r = await httpsRequest(url, {
        ca: ca.cert,
        connectHost: "127.0.0.1",
        servername: BACKEND_NAME,
        timeoutMs: 3000,
        ...(alpn !== undefined ? { alpn } : {}),
      });
      if (r.status !== 200 || r.body !== backend.body) {
        failures.push(
          `probe ${n} (alpn ${JSON.stringify(alpn)}): ${r.status} ${JSON.stringify(r.body)} cn=${r.peerCN}`,
        );
      }
    } catch (e) {
      failures.push(`probe ${n} (alpn ${JSON.stringify(alpn)}): ${(e as Error).message}`);
    }
  };
  const loop = (async () => {
    while (!stop) {
      const started = Date.now();
      await probe(ALPN_ROTATION[probes % ALPN_ROTATION.length]);
      const wait = PROBE_EVERY_MS - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();

  // A probe or two before lego starts, so the default route is proven first.
  await new Promise((r) => setTimeout(r, 2 * PROBE_EVERY_MS));
  const probesBeforeLego = probes;
  const lego = await runLego(ws, {
    pebble,
    domains: ["seed.example.test"],
    tlsAddress: `127.0.0.1:${legoPort}`,
    timeoutMs: 60_000,
  });
  const probesDuringLego = probes - probesBeforeLego;
  // …and probes after lego's listener is gone: at least two, and MIN_PROBES in all (lego is
  // sometimes done in 2.5 s, when Pebble has validated before its first poll).
  await new Promise((r) => setTimeout(r, 2 * PROBE_EVERY_MS));
  for (let i = 0; probes < MIN_PROBES && i < 50; i++) await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  stop = true;
  await loop;

  // A second, independent client through the router.
  const c = await curl({ url, cacert: ca.certPath });

  const routerExit = router.proc.exitStatus();
  assert.equal(
    routerExit,
    undefined,
    `router exited early: ${JSON.stringify(routerExit)}; log ${router.proc.logPath}`,
  );
  assert.equal(
    lego.code,
    0,
    `lego failed (log ${lego.logPath}; router log ${router.proc.logPath}; pebble log ${pebble.pebble.logPath})\n${lego.output.slice(-2000)}`,
  );
  assert.deepEqual(lego.sans, ["seed.example.test"]);
  assert.deepEqual(
    failures,
    [],
    `${failures.length}/${probes} probes failed; router log ${router.proc.logPath}`,
  );
  assert.ok(probes >= MIN_PROBES, `only ${probes} probes ran (want >= ${MIN_PROBES})`);
  assert.ok(
    probesDuringLego >= MIN_PROBES_DURING_LEGO,
    `only ${probesDuringLego} probes ran while lego was issuing (want >= ${MIN_PROBES_DURING_LEGO})`,
  );
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.body, backend.body);
  assert.equal(backend.requests.length, probes + 1);
  assert.ok(backend.requests.every((r) => r.servername === BACKEND_NAME));
  console.log(
    `# seed: lego ${lego.elapsedMs} ms, ${probes} probes, 0 failures, ${router.logs().length} router JSON log lines`,
  );
});

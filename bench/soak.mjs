#!/usr/bin/env node
// `npm run soak -- --minutes N`: a bounded mixed load against the alpnmux CLI on loopback, with
// real TLS backends (Node), then a settle period, and a verdict.
//   node bench/soak.mjs [--minutes 2] [--runtime bun|deno] [--workers N|auto] [--max-clients 200]
//        [--rate 100] [--settle-seconds 30] [--json FILE]
// Load (at most --max-clients at once): normal TLS clients (short: one ping per connection; long:
// pings for 4-12 s, some ending with a 1-8 MiB stream) to a plain backend and to a PROXY v2
// backend that checks the header carries the client's address; slow clients (the hello in small
// pieces over ~1-2.5 s); silent clients (must be closed at the 3 s hello timeout); bad first
// flights (garbage, truncated hellos with and without FIN, HTTP); acme-tls/1 validation bursts
// on the built-in responder (a fresh challenge through the admin API, 5-10 handshakes checking
// acmeIdentifier = SHA-256(keyAuthorization)); a route swap (PUT /v1/routes) every 3 s and a
// SIGHUP with a rewritten config file every 7 s. It samples RSS and open descriptors of the
// alpnmux process tree each second. Exit 1 if a normal connection or a validation failed, a
// refusal did not happen, alpnmux died, or descriptors/RSS did not come back (see checks.mjs).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { lastOutput, processSet, sleep } from "./lib/proc.mjs";
import { startBackend } from "./lib/soak-backends.mjs";
import { verdict } from "./lib/soak-checks.mjs";
import { Load } from "./lib/soak-load.mjs";
import { startRouter } from "./lib/soak-router.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");

function options(argv) {
  const val = (name, dflt) => {
    const i = argv.lastIndexOf(name);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const o = {
    minutes: Number(val("--minutes", "2")),
    runtime: val("--runtime", "bun"),
    workers: val("--workers", "1"),
    maxClients: Number(val("--max-clients", "200")),
    rate: Number(val("--rate", "100")),
    settleSeconds: Number(val("--settle-seconds", "30")),
    json: val("--json"),
  };
  if (!(o.minutes > 0 && o.minutes <= 24 * 60))
    throw new Error("--minutes must be a number of minutes (> 0)");
  if (!["bun", "deno"].includes(o.runtime)) throw new Error("--runtime must be bun or deno");
  if (!(o.rate >= 1 && o.rate <= 2000))
    throw new Error("--rate must be from 1 to 2000 new clients per second");
  if (!(o.maxClients >= 20 && o.maxClients <= 1000)) throw new Error("--max-clients must be from 20 to 1000");
  return o;
}

async function main() {
  let opt;
  try {
    opt = options(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`soak: ${e.message}\n`);
    process.exit(2);
  }
  const log = (s) => process.stdout.write(`${s}\n`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "alpnmux-soak-"));
  const procs = processSet(() => fs.rmSync(workDir, { recursive: true, force: true }));
  let code = 1;
  const backends = [];
  try {
    const router = await startRouter(procs, { root: ROOT, workDir, opt, backends, startBackend });
    log(
      `soak: alpnmux on ${opt.runtime} (${router.version}), ${router.pids().length} process(es), listening on ${router.port}, ` +
        `admin ${router.adminPort}; ${opt.minutes} min load, at most ${opt.maxClients} clients; settle up to ${opt.settleSeconds} s`,
    );
    const baseline = { ...router.sample(), at: "start" };
    log(`baseline: RSS ${mib(baseline.rssKiB)} MiB, ${baseline.fds} descriptors`);
    const load = new Load({ router, maxClients: opt.maxClients, ratePerSecond: opt.rate, log });
    const samples = [baseline];
    const t0 = Date.now();
    const end = t0 + opt.minutes * 60_000;
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    load.start();
    let nextLog = 15;
    while (Date.now() < end && router.alive()) {
      await sleep(1000);
      const s = { ...router.sample(), t: (Date.now() - t0) / 1000, clients: load.active };
      samples.push(s);
      if (s.t >= nextLog) {
        nextLog += 15;
        log(
          `  ${Math.round(s.t)} s: ${load.summaryLine()}  RSS ${mib(s.rssKiB)} MiB, ${s.fds} fds, ${load.active} clients`,
        );
      }
    }
    await load.stop();
    lag.disable();
    const peak = samples.reduce((a, s) => (s.rssKiB > a.rssKiB ? s : a), samples[0]);
    const peakFds = Math.max(...samples.map((s) => s.fds));
    log(`load stopped after ${fmt((Date.now() - t0) / 60000, 1)} min: ${load.summaryLine()}; settling`);
    // Settle: until descriptors are back near the baseline and no connection is open, or the limit.
    let final = router.sample();
    let active = await router.activeConnections();
    const settleEnd = Date.now() + opt.settleSeconds * 1000;
    while (Date.now() < settleEnd && router.alive() && (final.fds > baseline.fds + 10 || active !== 0)) {
      await sleep(1000);
      final = router.sample();
      active = await router.activeConnections();
    }
    await sleep(2000); // a last GC-quiet reading for RSS
    final = { ...router.sample(), at: "settled" };
    const result = verdict({
      ...{ opt, router, load, baseline, peak, peakFds, final, active, backends, samples },
      lagMaxMs: lag.max / 1e6,
      lagP99Ms: lag.percentile(99) / 1e6,
    });
    for (const l of result.lines) log(l);
    if (opt.json) fs.writeFileSync(opt.json, `${JSON.stringify({ ...result.doc, samples }, null, 1)}\n`);
    code = result.ok ? 0 : 1;
    if (!router.alive()) log(`alpnmux output:\n${lastOutput(router.proc)}`);
  } catch (e) {
    if (procs.interrupted) return;
    process.stderr.write(`soak failed: ${e.stack ?? e}\n`);
    for (const c of procs.children)
      if (c.tail?.length) process.stderr.write(`--- ${c.name} ---\n${lastOutput(c)}\n`);
  } finally {
    for (const b of backends) await b.close();
    await procs.stopAll();
    procs.cleanup();
  }
  process.exit(code);
}

const mib = (kib) => fmt(kib / 1024, 1);
const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));

await main();

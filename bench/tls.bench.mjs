#!/usr/bin/env node
// TLS router benchmark: real TLS clients (wrk, OpenSSL) through each router to a real TLS server
// (nginx), against the same backend in the same run, in interleaved rounds, reported as ratios.
//
//   node bench/tls.bench.mjs [--quick] [--rounds N] [--seconds S] [--warmup S] [--only id,...]
//        [--workloads conn,keepalive,bulk] [--connections N] [--idle N] [--memory-rounds N]
//        [--no-memory] [--no-resume] [--alpnmux NAME=BIN ...] [--json FILE]
//
// Workloads (wrk -t CORES, TLS 1.3 to nginx): (a) conn: a new TLS connection per request
// (-H "Connection: close"), (b) keepalive: small requests on kept-alive connections, (c) bulk:
// 10 MiB downloads over 4 connections. Targets: direct (the limit), HAProxy and nginx stream with
// the TLS-ALPN recipe (one thread/worker and their defaults), ualpn, the thinnest relay on Bun and
// on Deno (the floor for each runtime), alpnmux on Bun and on Deno. Per target and workload: the
// rate, wrk's p50/p99 latency, the router's CPU per unit (utime+stime of its process tree), and per
// round the router's RSS per idle TLS connection and per stalled pre-hello connection.
// Ratios (to direct, to the best incumbent, alpnmux to its runtime's relay) are taken within a
// round; the report shows their medians over rounds. See bench/README.md.
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { markdown } from "./lib/markdown.mjs";
import {
  cpuSec,
  lastOutput,
  machineBusySec,
  processSet,
  running,
  selfAndReapedCpuSec,
  sleep,
  statusKiB,
} from "./lib/proc.mjs";
import { analyze, buildDoc } from "./lib/report.mjs";
import {
  BULK_PATH,
  makeFiles,
  requireTools,
  SMALL_PATH,
  startBackend,
  targetList,
  versions,
} from "./lib/targets.mjs";
import { runWrk, WORKLOADS, wrkArgs, wrkScript } from "./lib/wrk.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function options(argv) {
  const val = (name) => {
    const i = argv.lastIndexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes("--quick");
  const o = {
    quick,
    // Default: ~15 minutes on 2 cores with every target; --quick: ~3-4 minutes, to check it works.
    rounds: Number(val("--rounds") ?? (quick ? 1 : 4)),
    seconds: Number(val("--seconds") ?? (quick ? 2 : 4)),
    // Warm-up per target before the rounds, the same for every target: JIT runtimes (Bun, Deno)
    // keep compiling for the first ~10-15 s of load (bench/profiles.md), and a router in
    // production runs for days, so rates after a 1 s warm-up would measure the compiler.
    warmupSeconds: Number(val("--warmup") ?? (quick ? 1 : 6)),
    connections: Number(val("--connections") ?? 50),
    bulkConnections: 4,
    threads: os.availableParallelism(),
    idle: Number(val("--idle") ?? (quick ? 500 : 1000)),
    resume: !argv.includes("--no-resume"),
    // Memory samples (a fresh router each, so slower and steadier than rates): the first N rounds.
    memoryRounds: argv.includes("--no-memory") ? 0 : Number(val("--memory-rounds") ?? (quick ? 1 : 2)),
    only: val("--only")?.split(",").filter(Boolean),
    workloads: (val("--workloads") ?? "conn,keepalive,bulk").split(",").filter(Boolean),
    json: path.resolve(val("--json") ?? path.join(HERE, "results.json")),
    // `--alpnmux NAME=BIN` (repeatable) benchmarks another alpnmux command in the same run, e.g.
    // a checkout of an earlier commit: --alpnmux before=/tmp/old/node_modules/.bin/alpnmux
    alpnmuxes: [
      ["alpnmux-bun", path.join(ROOT, "node_modules/.bin/alpnmux")],
      ["alpnmux-deno", path.join(ROOT, "node_modules/.bin/alpnmux-deno")],
      ...argv.flatMap((a, i) => (a === "--alpnmux" && argv[i + 1] ? [argv[i + 1].split("=")] : [])),
    ],
  };
  for (const w of o.workloads)
    if (!WORKLOADS[w]) throw new Error(`unknown workload ${w} (known: ${Object.keys(WORKLOADS).join(", ")})`);
  if (!(o.rounds >= 1 && o.seconds >= 1)) throw new Error("--rounds and --seconds must be >= 1");
  return o;
}

async function main() {
  const opt = options(process.argv.slice(2));
  let bins;
  try {
    bins = requireTools();
  } catch (e) {
    process.stderr.write(`TLS bench: ${e.message}\n`);
    process.exit(1);
  }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "alpnmux-tls-bench-"));
  const procs = processSet(() => fs.rmSync(workDir, { recursive: true, force: true }));
  const log = (s) => process.stdout.write(`${s}\n`);
  const t0 = Date.now();
  let exitCode = 0;
  try {
    const files = makeFiles(workDir, bins);
    const script = wrkScript(workDir);
    const backend = await startBackend(procs, bins, workDir, files, { resume: opt.resume });
    const acme = await startAcmeBackend();
    const cores = os.availableParallelism();
    let list = targetList({
      bins,
      backend,
      acmePort: acme.port,
      workDir,
      root: ROOT,
      cores,
      alpnmuxes: opt.alpnmuxes,
    });
    if (opt.only) {
      const known = new Set(list.map((t) => t.id));
      for (const id of opt.only)
        if (!known.has(id)) throw new Error(`--only: unknown target ${id} (known: ${[...known].join(", ")})`);
      list = list.filter((t) => t.id === "direct" || opt.only.includes(t.id)); // direct: every ratio needs it
    }
    log(
      `TLS router bench: ${opt.rounds} round(s) x ${opt.workloads.join("/")} x ${list.length} targets, ${opt.seconds} s each;` +
        ` ${opt.connections} connections (bulk ${opt.bulkConnections}), wrk -t ${opt.threads};` +
        ` ${opt.idle} idle connections per memory sample; ${cores} cores${opt.resume ? "" : "; --no-resume"}`,
    );

    // Start every target; optional ones may be missing, failures are reported, not fatal.
    for (const t of list) {
      try {
        Object.assign(t, await t.start(procs), { status: "ok" });
        t.rssIdleKiB = statusKiB(t.pids(), "VmRSS");
      } catch (e) {
        t.status = e.status ?? "failed";
        t.note = e.message;
        if (t.status === "failed" && !t.optional) exitCode = 1;
        log(`  ${t.id}: ${t.status} (${e.message})`);
      }
    }
    const live = () => list.filter((t) => t.status === "ok");

    // Sanity: an HTTPS request through each target, and the acme-tls/1 route for the routers with one.
    const helloAcme = fs.readFileSync(path.join(ROOT, "packages/core/src/_testdata/hellos/go-pebble-va.bin"));
    for (const t of live()) {
      try {
        await httpsCheck(t.port);
        if (["incumbent", "alpnmux"].includes(t.kind))
          t.acmeGotProxyHeader = await acme.check(t.port, helloAcme);
      } catch (e) {
        t.status = "failed";
        t.note = `sanity check: ${e.message}`;
        exitCode = 1;
        log(`  ${t.id}: failed (${t.note})`);
      }
    }

    // Measurements.
    const allPids = () => [...backend.pids(), ...live().flatMap((t) => t.pids())];
    const snap = (t) => ({
      router: t.kind === "direct" ? 0 : cpuSec(t.pids()),
      backend: cpuSec(backend.pids()),
      ours: cpuSec(allPids()) + selfAndReapedCpuSec(),
      busy: machineBusySec(),
      wall: performance.now(),
    });
    const measure = async (t, w, seconds) => {
      const spec = WORKLOADS[w];
      const args = wrkArgs({
        script,
        port: t.port,
        urlPath: w === "bulk" ? BULK_PATH : SMALL_PATH,
        connections: w === "bulk" ? opt.bulkConnections : opt.connections,
        threads: opt.threads,
        seconds,
        headers: spec.headers,
      });
      const a = snap(t);
      const r = await runWrk(procs, bins.wrk, args);
      const b = snap(t);
      const units = w === "bulk" ? r.bytes / GiB : r.requests / 1000;
      const wallSec = (b.wall - a.wall) / 1000;
      return {
        rate: w === "bulk" ? r.bytes / MiB / r.seconds : r.requests / r.seconds,
        p50ms: r.p50ms,
        p99ms: r.p99ms,
        requests: r.requests,
        bytes: r.bytes,
        errors: r.errors,
        errorCount: r.errorCount,
        routerCpuSec: t.kind === "direct" ? null : b.router - a.router,
        cpuPerUnit: t.kind === "direct" ? null : (b.router - a.router) / units,
        backendCpuPerUnit: (b.backend - a.backend) / units,
        otherLoadPct: (100 * Math.max(0, b.busy - a.busy - (b.ours - a.ours))) / wallSec,
      };
    };
    opt.wrkCommands = Object.fromEntries(
      opt.workloads.map((w) => [
        w,
        [
          "wrk",
          ...wrkArgs({
            script: "done.lua",
            port: "PORT",
            urlPath: w === "bulk" ? BULK_PATH : SMALL_PATH,
            connections: w === "bulk" ? opt.bulkConnections : opt.connections,
            threads: opt.threads,
            seconds: opt.seconds,
            headers: WORKLOADS[w].headers,
          }).map((a) => (/\s/.test(a) ? `'${a}'` : a)),
        ].join(" "),
      ]),
    );
    const rotate = (xs, k) => xs.map((_, i) => xs[(i + k) % xs.length]);
    const alive = (t) => {
      if (t.status === "ok" && t.proc && !running(t.proc)) {
        t.status = "failed";
        t.note = `exited during the run: ${lastOutput(t.proc)}`;
        exitCode = 1;
        log(`  ${t.id}: ${t.note}`);
      }
      return t.status === "ok";
    };

    log(`warm-up (${opt.warmupSeconds} s keep-alive + ${opt.warmupSeconds} s new connections per target)`);
    for (const t of live())
      for (const w of ["keepalive", "conn"]) if (alive(t)) await measure(t, w, opt.warmupSeconds);

    for (const t of list) {
      t.samples = Object.fromEntries(opt.workloads.map((w) => [w, []]));
      t.memory = [];
    }
    for (let round = 0; round < opt.rounds; round++) {
      log(`round ${round + 1}/${opt.rounds} (${fmt((Date.now() - t0) / 60000, 1)} min)`);
      for (const [wi, w] of opt.workloads.entries()) {
        for (const t of rotate(live(), round + wi)) {
          if (!alive(t)) continue;
          const s = { round, ...(await measure(t, w, opt.seconds)) };
          t.samples[w].push(s);
          if (s.errors.status) exitCode = 1;
          log(
            `  ${w.padEnd(9)} ${t.id.padEnd(20)} ${fmt(s.rate, 0).padStart(7)} ${WORKLOADS[w].unit.padEnd(6)}` +
              `  p50 ${fmt(s.p50ms, 2)} ms  p99 ${fmt(s.p99ms, 2)} ms` +
              (s.cpuPerUnit === null ? "" : `  ${WORKLOADS[w].cpuUnit} ${fmt(s.cpuPerUnit, 3)}`) +
              `  errors ${s.errorCount}  other load ${fmt(s.otherLoadPct, 0)}%`,
          );
          await sleep(300);
        }
      }
      for (const t of rotate(live(), round)) {
        if (t.kind === "direct" || !alive(t) || round >= opt.memoryRounds) continue;
        const m = { round };
        // Stalled pre-hello connections only in the first memory round (they vary little; the time goes to rates).
        for (const mode of round === 0 ? ["tls", "tcp"] : ["tls"]) {
          try {
            m[mode] = await idleRss(procs, t, mode, opt.idle);
          } catch (e) {
            m[mode] = { kibPerConn: null, alive: 0, error: e.message };
            log(`  memory    ${t.id}: ${e.message}`);
          }
        }
        t.memory.push(m);
        log(
          `  memory    ${t.id.padEnd(20)} ${fmt(m.tls.kibPerConn, 1).padStart(7)} KiB/idle TLS conn (${m.tls.alive} kept)` +
            (m.tcp ? `  ${fmt(m.tcp.kibPerConn, 1)} KiB/stalled conn (${m.tcp.alive} kept)` : ""),
        );
      }
    }
    for (const t of live()) t.rssPeakKiB = statusKiB(t.pids(), "VmHWM");

    const doc = analyze(
      buildDoc({ opt, list, backend, versions: versions(bins), minutes: (Date.now() - t0) / 60000 }),
    );
    doc.markdown = markdown(doc);
    log(doc.markdown);
    fs.writeFileSync(
      opt.json,
      `${JSON.stringify(doc, (_k, v) => (typeof v === "number" ? round3(v) : v), 2)}\n`,
    );
    log(`\nwrote ${path.relative(process.cwd(), opt.json)} (${fmt((Date.now() - t0) / 60000, 1)} min)`);
    acme.server.close();
  } catch (e) {
    if (procs.interrupted) return;
    process.stderr.write(`TLS bench failed: ${e.stack ?? e}\n`);
    for (const c of procs.children)
      if (c.tail?.length) process.stderr.write(`--- ${c.name} output ---\n${lastOutput(c)}\n`);
    exitCode = 1;
  } finally {
    await procs.stopAll();
    procs.cleanup();
  }
  process.exit(exitCode);
}

/** The acme-tls/1 backend of the routers: answers "A" to the first bytes and notes a PROXY header. */
async function startAcmeBackend() {
  let sawProxy = null;
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", (d) => {
      sawProxy = d.subarray(0, 6).toString() === "PROXY " || d[0] === 0x0d;
      s.end("A");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    port: server.address().port,
    /** Sends the Pebble validator's hello through `port`; resolves to whether a PROXY header came first. */
    check: (port, hello) =>
      new Promise((resolve, reject) => {
        sawProxy = null;
        const s = net.connect(port, "127.0.0.1", () => s.write(hello));
        const timer = setTimeout(() => s.destroy(new Error("acme-tls/1 hello: no answer in 5 s")), 5000);
        s.on("data", (d) => {
          clearTimeout(timer);
          s.destroy();
          if (d.toString() === "A") resolve(sawProxy);
          else reject(new Error("acme-tls/1 hello reached the wrong backend"));
        });
        s.on("error", reject);
      }),
  };
}

function httpsCheck(port) {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: "127.0.0.1",
        port,
        path: SMALL_PATH,
        servername: "localhost",
        rejectUnauthorized: false,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () =>
          res.statusCode === 200 && body.startsWith("hello")
            ? resolve()
            : reject(new Error(`GET ${SMALL_PATH}: ${res.statusCode}`)),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("HTTPS request timed out")));
    req.on("error", reject);
  });
}

/**
 * The marginal RSS of an idle connection through `t`: a fresh instance of the router (pools and
 * heaps from earlier samples would hide the growth), WARM connections opened first (first-use
 * costs: JIT, arenas), then `count` more; (RSS after - RSS before) / count, all kept open.
 */
async function idleRss(procs, t, mode, count) {
  const fresh = await t.start(procs);
  const c = procs.launch(
    `idle-${mode}`,
    process.execPath,
    [path.join(HERE, "idle-conns.mjs"), String(fresh.port), mode],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const lines = readline.createInterface({ input: c.proc.stdout });
  const ask = (cmd) =>
    new Promise((resolve, reject) => {
      const onExit = () => reject(new Error(`idle-conns exited: ${lastOutput(c)}`));
      c.proc.once("exit", onExit);
      lines.once("line", (l) => {
        c.proc.off("exit", onExit);
        resolve(l.split(" ").slice(1).map(Number));
      });
      c.proc.stdin.write(`${cmd}\n`);
    });
  try {
    // Let a just-started runtime finish its start-up allocations (and the GC that follows them)
    // first: with workers, a collection in one of three heaps during the sample hid the growth.
    await sleep(1000);
    const startKiB = statusKiB(fresh.pids(), "VmRSS");
    await ask(`open ${WARM}`);
    await sleep(1000);
    const [warm] = await ask("check");
    const beforeKiB = await steadyKiB(fresh.pids);
    const [opened, failed] = await ask(`open ${count}`);
    await sleep(1000);
    const afterKiB = await steadyKiB(fresh.pids);
    const [alive] = await ask("check");
    const kept = alive - warm;
    return {
      startKiB,
      beforeKiB,
      afterKiB,
      opened,
      failed,
      alive: kept,
      kibPerConn: kept > 0 ? (afterKiB - beforeKiB) / kept : null,
    };
  } finally {
    c.proc.stdin.end();
    await procs.stop(c);
    await procs.stop(fresh.proc);
  }
}
const WARM = 100;

/** The median of three RSS readings of the tree, 250 ms apart (a GC between two readings moves one). */
async function steadyKiB(pids) {
  const xs = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(250);
    xs.push(statusKiB(pids(), "VmRSS"));
  }
  return xs.sort((a, b) => a - b)[1];
}

const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const round3 = (x) => (Number.isInteger(x) ? x : Math.round(x * 1000) / 1000);

await main();

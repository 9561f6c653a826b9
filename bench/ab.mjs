#!/usr/bin/env node
// A/B driver for optimisation work: a few targets of the TLS bench measured alternately
// (A B A B ...) on one workload, printing the router's CPU per unit (utime+stime from /proc, far
// less sensitive to other load on the machine than the rates) and the rate, per repetition and
// as medians. Reuses the TLS bench's backend, targets and wrk runner.
//
//   node bench/ab.mjs [--workload conn|keepalive|bulk] [--reps N] [--seconds S]
//        [--connections N] [--warmup S] [--idle N] [--attach CMD] TARGET...
//
// TARGET: relay-bun, relay-deno, alpnmux-bun, alpnmux-deno (this checkout), or NAME=BIN (another
// alpnmux command, e.g. base=/tmp/base/packages/bun-listener/bin/alpnmux), or NAME:=COMMAND (a
// shell command with {port} and {backend}, e.g. a relay under a profiler). --idle N measures RSS
// per idle TLS connection instead (fresh process per sample, as the TLS bench does).
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { cpuSec, freePort, processSet, sleep, statusKiB, tree, waitListening } from "./lib/proc.mjs";
import { BULK_PATH, makeFiles, requireTools, SMALL_PATH, startBackend, targetList } from "./lib/targets.mjs";
import { runWrk, WORKLOADS, wrkArgs, wrkScript } from "./lib/wrk.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const argv = process.argv.slice(2);
const val = (n, d) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : d);
const workload = val("--workload", "conn");
const reps = Number(val("--reps", 4));
const warmup = Number(val("--warmup", 1));
const seconds = Number(val("--seconds", 3));
const connections = Number(val("--connections", workload === "bulk" ? 4 : 50));
// --attach CMD: a shell command run alongside each measured run ({pid}: the router's main pid,
// {id}: the target), e.g. --attach "timeout 3 strace -c -f -p {pid} -o /tmp/strace.{id}".
const attach = val("--attach");
const idle = Number(val("--idle", 0));
const names = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));

const bins = requireTools();
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "alpnmux-ab-"));
const procs = processSet(() => fs.rmSync(workDir, { recursive: true, force: true }));
try {
  const files = makeFiles(workDir, bins);
  const script = wrkScript(workDir);
  const backend = await startBackend(procs, bins, workDir, files, { resume: true });
  const acme = net.createServer((s) => s.on("error", () => {}).end("A"));
  await new Promise((r) => acme.listen(0, "127.0.0.1", r));
  const extra = names.filter((n) => n.includes("=")).map((n) => n.split("="));
  const all = targetList({
    bins,
    backend,
    acmePort: acme.address().port,
    workDir,
    root: ROOT,
    cores: os.availableParallelism(),
    alpnmuxes: [
      ["alpnmux-bun", path.join(ROOT, "node_modules/.bin/alpnmux")],
      ["alpnmux-deno", path.join(ROOT, "node_modules/.bin/alpnmux-deno")],
      ...extra,
    ],
  });
  const targets = names.map((n) => {
    if (n.includes(":=")) {
      // NAME:=COMMAND, a shell command with {port} (to listen on) and {backend} (nginx TLS, no PROXY).
      const [id, cmd] = n.split(":=");
      return {
        id,
        async start(ps) {
          const port = await freePort();
          const line = cmd.replaceAll("{port}", String(port)).replaceAll("{backend}", String(backend.plain));
          const c = ps.launch(id, "sh", ["-c", `exec ${line}`]);
          await waitListening(port, c);
          return { port, pids: () => tree(c.proc.pid), proc: c };
        },
      };
    }
    const t = all.find((x) => x.id === n.split("=")[0]);
    if (!t) throw new Error(`unknown target ${n}`);
    return t;
  });
  if (idle > 0) {
    // --idle N: RSS per idle TLS connection (as the TLS bench measures it), fresh process each time.
    for (let i = 0; i < reps; i++)
      for (const t of targets) {
        const r = await idleRss(procs, t, idle);
        console.log(`${String(i + 1).padStart(2)} ${t.id.padEnd(14)} ${r.toFixed(2)} KiB/idle TLS conn`);
      }
    acme.close();
    throw "done";
  }
  for (const t of targets) Object.assign(t, await t.start(procs), { runs: [] });
  const run = async (t, secs, measured = true) => {
    const args = wrkArgs({
      script,
      port: t.port,
      urlPath: workload === "bulk" ? BULK_PATH : SMALL_PATH,
      connections,
      threads: os.availableParallelism(),
      seconds: secs,
      headers: WORKLOADS[workload].headers,
    });
    const a = cpuSec(t.pids());
    const side =
      attach && measured
        ? spawn("sh", ["-c", attach.replaceAll("{pid}", String(t.pids()[0])).replaceAll("{id}", t.id)], {
            stdio: "inherit",
          })
        : null;
    const r = await runWrk(procs, bins.wrk, args);
    if (side && side.exitCode === null) await new Promise((res) => side.on("exit", res));
    const cpu = cpuSec(t.pids()) - a;
    const units = workload === "bulk" ? r.bytes / 2 ** 30 : r.requests / 1000;
    return {
      cpu: cpu / units,
      rate: workload === "bulk" ? r.bytes / 2 ** 20 / r.seconds : r.requests / r.seconds,
      errors: r.errorCount,
      requests: r.requests,
    };
  };
  for (const t of targets) await run(t, warmup, false); // warm-up (JIT: alpnmux needs ~15 s of load on Bun)
  for (let i = 0; i < reps; i++) {
    for (const t of i % 2 ? [...targets].reverse() : targets) {
      const r = await run(t, seconds);
      t.runs.push(r);
      console.log(
        `${String(i + 1).padStart(2)} ${t.id.padEnd(14)} cpu/unit ${r.cpu.toFixed(4)}  rate ${r.rate.toFixed(0)}  errors ${r.errors}  requests ${r.requests}`,
      );
      await sleep(200);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\n${workload}: ${WORKLOADS[workload].cpuUnit}, medians of ${reps}`);
  for (const t of targets)
    console.log(
      `${t.id.padEnd(14)} cpu ${med(t.runs.map((r) => r.cpu)).toFixed(4)}  min ${Math.min(...t.runs.map((r) => r.cpu)).toFixed(4)}  rate ${med(t.runs.map((r) => r.rate)).toFixed(0)} ${WORKLOADS[workload].unit}`,
    );
  acme.close();
} catch (e) {
  if (e !== "done") throw e;
} finally {
  await procs.stopAll();
  procs.cleanup();
}
process.exit(0);

async function idleRss(procs, t, count) {
  const fresh = await t.start(procs);
  const c = procs.launch(
    "idle",
    process.execPath,
    [path.join(HERE, "idle-conns.mjs"), String(fresh.port), "tls"],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const lines = readline.createInterface({ input: c.proc.stdout });
  const ask = (cmd) =>
    new Promise((resolve) => {
      lines.once("line", (l) => resolve(l.split(" ").slice(1).map(Number)));
      c.proc.stdin.write(`${cmd}\n`);
    });
  try {
    await ask("open 100");
    await sleep(500);
    const [warm] = await ask("check");
    const before = statusKiB(fresh.pids(), "VmRSS");
    await ask(`open ${count}`);
    await sleep(1000);
    const after = statusKiB(fresh.pids(), "VmRSS");
    const [alive] = await ask("check");
    return (after - before) / (alive - warm);
  } finally {
    c.proc.stdin.end();
    await procs.stop(c);
    await procs.stop(fresh.proc ?? fresh);
  }
}

#!/usr/bin/env node
// The TLS benchmark's results: the results.json document (buildDoc), medians and same-round
// ratios (analyze), the targets with PASS/MISS per alpnmux row (goals.mjs); the tables
// are markdown.mjs. Everything is computed from the raw samples in the document, so an
// older results.json can be re-read with the current analysis:
//   node bench/lib/report.mjs --markdown bench/results.json     (prints the tables)
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { goals } from "./goals.mjs";
import { markdown } from "./markdown.mjs";

export const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const div = (a, b) => (a === null || a === undefined || !b || b <= 0 ? null : a / b);
export const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const higherIsBetter = { rate: true, cpuPerUnit: false, p50ms: false, p99ms: false };

/**
 * Fills what older documents lack: an incumbent's `scale` ("one": 1 thread/worker, "auto": the
 * defaults for the machine) and an alpnmux row's `workers`, from the target id.
 */
function classify(t) {
  if (t.kind === "incumbent" && !t.scale) t.scale = /-1$/.test(t.id) ? "one" : "auto";
  if (t.kind === "alpnmux" && t.workers === undefined) t.workers = /workers/.test(t.id) ? 2 : 1;
  if (!t.runtime && t.kind === "alpnmux") t.runtime = /deno/.test(t.id) ? "deno" : "bun";
  return t;
}

/**
 * The incumbents `t` is compared with, pinned per core: one-process targets (alpnmux one worker,
 * the relays, ualpn) with the one-thread/worker incumbents, alpnmux with workers with the
 * incumbents at their defaults. If that group was not measured (--only), all incumbents.
 */
export function incumbentsFor(t, targets) {
  const inc = targets.filter((x) => x.kind === "incumbent" && x.status === "ok");
  const scale = t.kind === "alpnmux" && t.workers > 1 ? "auto" : "one";
  const pinned = inc.filter((x) => x.scale === scale);
  return pinned.length ? pinned : inc;
}

/** Per-round ratios of `t` to `ref` (a target) or to the best of the incumbents `ref` (an array). */
function ratios(t, ref, workloads) {
  const group = Array.isArray(ref) ? ref : null;
  const out = {};
  for (const w of workloads) {
    const per = { rate: [], cpuPerUnit: [], p50ms: [], p99ms: [] };
    const best = {};
    for (const s of t.samples?.[w] ?? []) {
      for (const k of Object.keys(per)) {
        let b;
        if (group) {
          const vals = group
            .map((x) => ({ id: x.id, v: x.samples?.[w]?.find((y) => y.round === s.round)?.[k] }))
            .filter((y) => y.v !== null && y.v !== undefined);
          if (!vals.length) continue;
          const pick = vals.reduce((a, y) => ((higherIsBetter[k] ? y.v > a.v : y.v < a.v) ? y : a));
          b = pick.v;
          best[k] = [...(best[k] ?? []), pick.id];
        } else b = ref.samples?.[w]?.find((y) => y.round === s.round)?.[k];
        per[k].push(div(s[k], b));
      }
    }
    out[w] = Object.fromEntries(Object.entries(per).map(([k, v]) => [k, median(v)]));
    if (group) out[w].best = best;
  }
  const mem = { tls: [], tcp: [] };
  for (const m of t.memorySamples ?? []) {
    for (const mode of ["tls", "tcp"]) {
      let b;
      if (group) {
        const vals = group
          .map((x) => x.memorySamples?.find((y) => y.round === m.round)?.[mode]?.kibPerConn)
          .filter((v) => v !== null && v !== undefined);
        b = vals.length ? Math.min(...vals) : null;
      } else b = ref.memorySamples?.find((y) => y.round === m.round)?.[mode]?.kibPerConn;
      mem[mode].push(div(m[mode]?.kibPerConn, b));
    }
  }
  out.memory = { tlsKiBPerConn: median(mem.tls), stalledKiBPerConn: median(mem.tcp) };
  return out;
}

function summarize(t, workloads) {
  const s = {};
  for (const w of workloads) {
    const xs = t.samples?.[w] ?? [];
    s[w] = {
      rate: median(xs.map((x) => x.rate)),
      p50ms: median(xs.map((x) => x.p50ms)),
      p99ms: median(xs.map((x) => x.p99ms)),
      cpuPerUnit: median(xs.map((x) => x.cpuPerUnit)),
      backendCpuPerUnit: median(xs.map((x) => x.backendCpuPerUnit)),
      errors: xs.reduce((a, x) => a + x.errorCount, 0),
      statusErrors: xs.reduce((a, x) => a + x.errors.status, 0),
    };
  }
  const mem = t.memorySamples ?? [];
  s.memory = {
    tlsKiBPerConn: median(mem.map((m) => m.tls?.kibPerConn)),
    stalledKiBPerConn: median(mem.map((m) => m.tcp?.kibPerConn)),
    minAlive: Object.fromEntries(
      ["tls", "tcp"].map((mode) => {
        const xs = mem.filter((m) => m[mode]).map((m) => m[mode].alive ?? 0);
        return [mode, xs.length ? Math.min(...xs) : null];
      }),
    ),
  };
  return s;
}

/** The results document from a finished run: raw samples, configs, versions, machine facts. */
export function buildDoc({ opt, list, backend, versions, minutes }) {
  const loads = list.flatMap((t) =>
    opt.workloads.flatMap((w) => (t.samples?.[w] ?? []).map((s) => s.otherLoadPct)),
  );
  return {
    date: new Date().toISOString(),
    minutes,
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model,
      kernel: os.release(),
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    },
    versions: {
      ...versions,
      ...Object.fromEntries(list.filter((t) => t.version).map((t) => [t.id, t.version])),
    },
    params: {
      quick: opt.quick,
      rounds: opt.rounds,
      secondsPerMeasurement: opt.seconds,
      warmupSeconds: opt.warmupSeconds,
      workloads: opt.workloads,
      connections: opt.connections,
      bulkConnections: opt.bulkConnections,
      wrkThreads: opt.threads,
      wrkCommands: opt.wrkCommands,
      idleConnectionsPerSample: opt.idle,
      idleWarmupConnections: 100,
      memoryRounds: Math.min(opt.rounds, opt.memoryRounds),
      tlsResumption: opt.resume,
      only: opt.only,
    },
    otherLoadPctOfOneCore: {
      mean: loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length),
      max: Math.max(0, ...loads),
    },
    configs: Object.fromEntries([
      ["backend", backend.config],
      ...list.filter((t) => t.config).map((t) => [t.id, t.config]),
    ]),
    targets: list.map((t) => ({
      id: t.id,
      label: t.label,
      kind: t.kind,
      scale: t.scale,
      workers: t.workers,
      status: t.status,
      note: t.note,
      runtime: t.runtime,
      command: t.command,
      threads: t.threads,
      processes: t.processes,
      acmeGotProxyHeader: t.acmeGotProxyHeader,
      rssStartMiB: t.rssIdleKiB === undefined ? undefined : t.rssIdleKiB / 1024,
      rssPeakMiB: t.rssPeakKiB === undefined ? undefined : t.rssPeakKiB / 1024,
      samples: t.samples,
      memorySamples: t.memory,
    })),
  };
}

/** Adds `median`, `ratios` (vsDirect, vsBestIncumbent pinned per core, vsRelay) and `goals` to each target. */
export function analyze(doc) {
  const W = doc.params.workloads;
  const targets = doc.targets.map(classify);
  const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
  const direct = byId.direct;
  for (const t of targets) {
    t.median = summarize(t, W);
    if (t.status !== "ok") continue;
    const inc = incumbentsFor(t, targets);
    t.ratios = {
      vsDirect: direct ? ratios(t, direct, W) : undefined,
      vsBestIncumbent: { of: inc.map((x) => x.id), ...ratios(t, inc, W) },
    };
    const relay = byId[`relay-${t.runtime}`];
    if (t.kind === "alpnmux" && relay?.status === "ok")
      t.ratios.vsRelay = { relay: relay.id, ...ratios(t, relay, W) };
    const hap = byId["haproxy-auto"];
    if (t.kind === "alpnmux" && t.workers > 1 && hap?.status === "ok")
      t.ratios.vsHaproxyDefault = { ref: hap.id, ...ratios(t, hap, W) };
    if (t.kind === "alpnmux") t.goals = goals(t, W);
  }
  return doc;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--markdown");
  const file = i >= 0 ? process.argv[i + 1] : undefined;
  if (!file) {
    process.stderr.write("usage: node bench/lib/report.mjs --markdown bench/results.json\n");
    process.exit(2);
  }
  const doc = analyze(JSON.parse(fs.readFileSync(file, "utf8")));
  process.stdout.write(`${markdown(doc)}\n`);
}

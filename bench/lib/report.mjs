#!/usr/bin/env node
// The TLS benchmark's results: the results.json document (buildDoc), medians and same-round
// ratios (analyze), the targets with PASS/MISS per alpnmux row (goals.mjs), and the
// markdown tables (markdown). Everything is computed from the raw samples in the document, so an
// older results.json can be re-read with the current analysis:
//   node bench/lib/report.mjs --markdown bench/results.json     (prints the tables)
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { goalRows, goals } from "./goals.mjs";
import { WORKLOADS } from "./wrk.mjs";

export const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const div = (a, b) => (a === null || a === undefined || !b || b <= 0 ? null : a / b);
export const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
export const x2 = (r) => (r === null || r === undefined ? "-" : `${r.toFixed(2)}x`);
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

/** The markdown tables of an analyzed document. */
export function markdown(doc) {
  const W = doc.params.workloads;
  const opt = doc.params;
  const list = doc.targets;
  const direct = list.find((t) => t.id === "direct");
  const L = [];
  const row = (cells) => L.push(`| ${cells.join(" | ")} |`);
  const conns = (w) => (w === "bulk" ? opt.bulkConnections : opt.connections);
  for (const w of W) {
    const spec = WORKLOADS[w];
    L.push(
      "",
      `### ${spec.title} (${conns(w)} connections, ${opt.secondsPerMeasurement} s x ${opt.rounds} rounds)`,
      "",
    );
    row([
      "target",
      spec.unit,
      "x direct",
      "x best incumbent",
      "p50 ms",
      "p99 ms",
      spec.cpuUnit,
      "CPU x best incumbent",
      "errors",
    ]);
    row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]);
    for (const t of list) {
      if (t.status !== "ok") {
        row([t.label, t.status, "", "", "", "", "", "", ""]);
        continue;
      }
      const s = t.median[w];
      const r = t.ratios;
      const isDirect = t.kind === "direct";
      row([
        t.label,
        fmt(s.rate, 0),
        isDirect ? "1" : x2(r.vsDirect?.[w].rate),
        x2(r.vsBestIncumbent[w].rate),
        fmt(s.p50ms, 2),
        fmt(s.p99ms, 2),
        isDirect ? "-" : fmt(s.cpuPerUnit, 3),
        isDirect ? "-" : x2(r.vsBestIncumbent[w].cpuPerUnit),
        String(s.errors),
      ]);
    }
    if (direct?.median)
      L.push(
        "",
        `The nginx backend itself (direct): ${fmt(direct.median[w].backendCpuPerUnit, 3)} ${spec.cpuUnit}.`,
      );
  }
  if (list.some((t) => t.memorySamples?.length)) {
    L.push(
      "",
      `### Memory: router process tree RSS, summed over its processes (marginal per connection: a fresh router per sample, 100 connections, then ${opt.idleConnectionsPerSample} more; median of ${opt.memoryRounds}; stalled connections in the first only)`,
      "",
    );
    row([
      "target",
      "RSS at start MiB",
      "peak RSS MiB",
      "KiB / idle TLS conn",
      "x best incumbent",
      "KiB / stalled pre-hello conn",
      "x best incumbent",
    ]);
    row(["---", "---:", "---:", "---:", "---:", "---:", "---:"]);
    for (const t of list) {
      if (t.kind === "direct") continue;
      if (t.status !== "ok") {
        row([t.label, t.status, "", "", "", "", ""]);
        continue;
      }
      const m = t.median.memory;
      const short = (mode) =>
        m.minAlive[mode] !== null && m.minAlive[mode] < opt.idleConnectionsPerSample
          ? ` (${m.minAlive[mode]} stayed open)`
          : "";
      row([
        t.label,
        fmt(t.rssStartMiB, 1),
        fmt(t.rssPeakMiB, 1),
        fmt(m.tlsKiBPerConn, 1) + short("tls"),
        x2(t.ratios.vsBestIncumbent.memory.tlsKiBPerConn),
        fmt(m.stalledKiBPerConn, 1) + short("tcp"),
        x2(t.ratios.vsBestIncumbent.memory.stalledKiBPerConn),
      ]);
    }
  }
  const cols = [
    ...W.map((w) => [`${w} ${WORKLOADS[w].unit}`, (r) => r[w]?.rate]),
    ...W.map((w) => [`${w} CPU`, (r) => r[w]?.cpuPerUnit]),
    ...W.filter((w) => w !== "keepalive").map((w) => [`${w} p99`, (r) => r[w]?.p99ms]),
    ["KiB/TLS conn", (r) => r.memory?.tlsKiBPerConn],
    ["KiB/stalled", (r) => r.memory?.stalledKiBPerConn],
  ];
  L.push(
    "",
    "### Ratios (median over rounds of same-round ratios; CPU, p99 and KiB: lower is better)",
    "",
    "One-process rows are compared with the best of the one-thread/worker incumbents, `--workers` rows with the best of the incumbents at their defaults.",
    "",
  );
  row(["ratio", ...cols.map(([h]) => h)]);
  row(["---", ...cols.map(() => "---:")]);
  const short = (label) => label.replace(/ \(bench.*/, "");
  const byId = Object.fromEntries(list.map((t) => [t.id, t]));
  for (const t of list.filter((x) => ["alpnmux", "relay"].includes(x.kind) && x.status === "ok")) {
    const refs = [];
    if (t.ratios.vsRelay) refs.push([short(byId[t.ratios.vsRelay.relay].label), t.ratios.vsRelay]);
    if (t.ratios.vsHaproxyDefault)
      refs.push([short(byId[t.ratios.vsHaproxyDefault.ref].label), t.ratios.vsHaproxyDefault]);
    refs.push([`best of ${t.ratios.vsBestIncumbent.of.join("/")}`, t.ratios.vsBestIncumbent]);
    for (const [name, r] of refs) row([`${short(t.label)} / ${name}`, ...cols.map(([, f]) => x2(f(r)))]);
  }
  L.push(...goalRows(list));
  L.push(
    "",
    `Other load on the machine during the measurements (not this benchmark): mean ${fmt(doc.otherLoadPctOfOneCore?.mean, 0)}%, max ${fmt(doc.otherLoadPctOfOneCore?.max, 0)}% of one core.`,
  );
  return L.join("\n");
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

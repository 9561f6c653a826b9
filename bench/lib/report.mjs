// Medians, same-round ratios, the markdown tables printed at the end of the TLS benchmark, and
// the results.json document.
import os from "node:os";
import { WORKLOADS } from "./wrk.mjs";

const median = (xs) => {
  const s = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const div = (a, b) => (a === null || a === undefined || !b || b <= 0 ? null : a / b);
const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const x2 = (r) => (r === null || r === undefined ? "-" : `${r.toFixed(2)}x`);
const higherIsBetter = { rate: true, cpuPerUnit: false, p50ms: false, p99ms: false };

/** Per-round ratios of `t` to `ref` (a target) or to the best incumbent of that round (`ref` = "best"). */
function ratios(t, ref, list, workloads) {
  const inc = list.filter((x) => x.kind === "incumbent" && x.status === "ok");
  const out = {};
  for (const w of workloads) {
    const per = { rate: [], cpuPerUnit: [], p50ms: [], p99ms: [] };
    const best = {};
    for (const s of t.samples?.[w] ?? []) {
      for (const k of Object.keys(per)) {
        let b;
        if (ref === "best") {
          const vals = inc
            .map((x) => ({ id: x.id, v: x.samples[w].find((y) => y.round === s.round)?.[k] }))
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
    if (ref === "best") out[w].best = best;
  }
  const mem = { tls: [], tcp: [] };
  for (const m of t.memory ?? []) {
    for (const mode of ["tls", "tcp"]) {
      let b;
      if (ref === "best") {
        const vals = inc.map((x) => x.memory.find((y) => y.round === m.round)?.[mode]?.kibPerConn);
        b = Math.min(...vals.filter((v) => v !== null && v !== undefined));
      } else b = ref.memory?.find((y) => y.round === m.round)?.[mode]?.kibPerConn;
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
  s.memory = {
    tlsKiBPerConn: median((t.memory ?? []).map((m) => m.tls.kibPerConn)),
    stalledKiBPerConn: median((t.memory ?? []).map((m) => m.tcp.kibPerConn)),
    minAlive: {
      tls: Math.min(...(t.memory ?? []).map((m) => m.tls.alive)),
      tcp: Math.min(...(t.memory ?? []).map((m) => m.tcp.alive)),
    },
  };
  return s;
}

export function report({ opt, list, backend, versions, minutes }) {
  const W = opt.workloads;
  const direct = list.find((t) => t.id === "direct");
  const byId = Object.fromEntries(list.map((t) => [t.id, t]));
  for (const t of list) {
    t.summary = summarize(t, W);
    if (t.status !== "ok") continue;
    t.ratios = { vsDirect: ratios(t, direct, list, W), vsBestIncumbent: ratios(t, "best", list, W) };
    const relay = byId[`relay-${t.runtime}`];
    if (t.kind === "alpnmux" && relay?.status === "ok")
      t.ratios.vsRelay = { relay: relay.id, ...ratios(t, relay, list, W) };
  }
  const L = [];
  const row = (cells) => L.push(`| ${cells.join(" | ")} |`);
  const conns = (w) => (w === "bulk" ? opt.bulkConnections : opt.connections);
  for (const w of W) {
    const spec = WORKLOADS[w];
    L.push("", `### ${spec.title} (${conns(w)} connections, ${opt.seconds} s x ${opt.rounds} rounds)`, "");
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
      const s = t.summary[w];
      const r = t.ratios;
      row([
        t.label,
        fmt(s.rate, 0),
        t.kind === "direct" ? "1" : x2(r.vsDirect[w].rate),
        x2(r.vsBestIncumbent[w].rate),
        fmt(s.p50ms, 2),
        fmt(s.p99ms, 2),
        t.kind === "direct" ? "-" : fmt(s.cpuPerUnit, 3),
        t.kind === "direct" ? "-" : x2(r.vsBestIncumbent[w].cpuPerUnit),
        String(s.errors),
      ]);
    }
    L.push(
      "",
      `The nginx backend itself (direct): ${fmt(direct.summary[w].backendCpuPerUnit, 3)} ${spec.cpuUnit}.`,
    );
  }
  if (list.some((t) => t.memory?.length)) {
    L.push(
      "",
      `### Memory: router process tree RSS (marginal per connection: a fresh router per sample, 100 connections, then ${opt.idle} more; median of ${Math.min(opt.rounds, opt.memoryRounds)})`,
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
      const m = t.summary.memory;
      const short = (mode) => (m.minAlive[mode] < opt.idle ? ` (${m.minAlive[mode]} stayed open)` : "");
      row([
        t.label,
        fmt(t.rssIdleKiB / 1024, 1),
        fmt(t.rssPeakKiB / 1024, 1),
        fmt(m.tlsKiBPerConn, 1) + short("tls"),
        x2(t.ratios.vsBestIncumbent.memory.tlsKiBPerConn),
        fmt(m.stalledKiBPerConn, 1) + short("tcp"),
        x2(t.ratios.vsBestIncumbent.memory.stalledKiBPerConn),
      ]);
    }
  }
  // The summary: alpnmux and the relays against their references.
  const cols = [
    ...W.map((w) => [`${w} ${WORKLOADS[w].unit}`, (r) => r[w].rate]),
    ...W.map((w) => [`${w} CPU`, (r) => r[w].cpuPerUnit]),
    ...W.filter((w) => w !== "keepalive").map((w) => [`${w} p99`, (r) => r[w].p99ms]),
    ["KiB/TLS conn", (r) => r.memory.tlsKiBPerConn],
    ["KiB/stalled", (r) => r.memory.stalledKiBPerConn],
  ];
  L.push("", "### Ratios (median over rounds of same-round ratios; CPU, p99 and KiB: lower is better)", "");
  row(["ratio", ...cols.map(([h]) => h)]);
  row(["---", ...cols.map(() => "---:")]);
  for (const t of list.filter((x) => ["alpnmux", "relay"].includes(x.kind) && x.status === "ok")) {
    const refs = [];
    if (t.ratios.vsRelay)
      refs.push([byId[t.ratios.vsRelay.relay].label.replace(/ \(.*/, ""), t.ratios.vsRelay]);
    refs.push(["best incumbent", t.ratios.vsBestIncumbent]);
    for (const [name, r] of refs)
      row([`${t.label.replace(/ \(.*/, "")} / ${name}`, ...cols.map(([, f]) => x2(f(r)))]);
  }
  const loads = list.flatMap((t) => W.flatMap((w) => (t.samples?.[w] ?? []).map((s) => s.otherLoadPct)));
  const otherLoad = {
    mean: loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length),
    max: Math.max(0, ...loads),
  };
  L.push(
    "",
    `Other load on the machine during the measurements (not this benchmark): mean ${fmt(otherLoad.mean, 0)}%, max ${fmt(otherLoad.max, 0)}% of one core.`,
  );
  process.stdout.write(`${L.join("\n")}\n`);

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
      idleConnectionsPerSample: opt.idle,
      idleWarmupConnections: 100,
      memoryRounds: Math.min(opt.rounds, opt.memoryRounds),
      tlsResumption: opt.resume,
    },
    otherLoadPctOfOneCore: otherLoad,
    configs: Object.fromEntries([
      ["backend", backend.config],
      ...list.filter((t) => t.config).map((t) => [t.id, t.config]),
    ]),
    targets: list.map((t) => ({
      id: t.id,
      label: t.label,
      kind: t.kind,
      status: t.status,
      note: t.note,
      runtime: t.runtime,
      command: t.command,
      threads: t.threads,
      processes: t.processes,
      acmeGotProxyHeader: t.acmeGotProxyHeader,
      rssStartMiB: t.rssIdleKiB === undefined ? undefined : t.rssIdleKiB / 1024,
      rssPeakMiB: t.rssPeakKiB === undefined ? undefined : t.rssPeakKiB / 1024,
      median: t.summary,
      ratios: t.ratios,
      samples: t.samples,
      memorySamples: t.memory,
    })),
    markdown: L.join("\n"),
  };
}

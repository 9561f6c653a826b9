// The markdown tables of an analyzed TLS benchmark document (report.mjs analyze): one table per
// workload, memory, ratios, and the targets with PASS/MISS (goals.mjs).
import { goalRows } from "./goals.mjs";
import { WORKLOADS } from "./wrk.mjs";

const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const x2 = (r) => (r === null || r === undefined ? "-" : `${r.toFixed(2)}x`);

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

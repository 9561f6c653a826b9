// The targets for alpnmux ("Faster than HAProxy and nginx"), checked against a run:
// each alpnmux row gets a list of { goal, measured, limit, result: PASS | MISS | n/a }.
//   --workers rows:  conn/s and keep-alive req/s >= HAProxy nbthread = cores, CPU per unit <= 1.25x it
//   Bun, 1 worker:   every workload >= 0.97x the Bun relay, CPU/conn <= 1.1x the relay's,
//                    conn/s and keep-alive >= best one-worker incumbent, bulk >= 0.95x, <= 10 KiB idle
//   Deno, 1 worker:  CPU/conn <= 1.2x the Deno relay, every workload >= 0.9x best one-worker
//                    incumbent, <= 12 KiB idle
// Ratios are the medians of same-round ratios (report.mjs), so a noisy round moves both sides.

const ge = (goal, measured, limit, unit = "x") => ({
  goal,
  measured,
  limit: `>= ${limit}${unit}`,
  ok: measured === null || measured === undefined ? null : measured >= limit,
  unit,
});
const le = (goal, measured, limit, unit = "x") => ({
  goal,
  measured,
  limit: `<= ${limit}${unit}`,
  ok: measured === null || measured === undefined ? null : measured <= limit,
  unit,
});

/** The targets that apply to `t` (an analyzed alpnmux row) and whether it met them. */
export function goals(t, W) {
  const out = [];
  const r = t.ratios ?? {};
  const has = (w) => W.includes(w);
  if (t.workers > 1) {
    const h = r.vsHaproxyDefault;
    const name = "HAProxy nbthread default";
    for (const w of ["conn", "keepalive"].filter(has))
      out.push(ge(`${rateOf(w)} vs ${name}`, h?.[w]?.rate, 1));
    for (const w of W) out.push(le(`CPU per ${unitOf(w)} vs ${name}`, h?.[w]?.cpuPerUnit, 1.25));
  } else if (t.runtime === "bun") {
    const rel = r.vsRelay;
    for (const w of W) out.push(ge(`${rateOf(w)} vs Bun relay`, rel?.[w]?.rate, 0.97));
    if (has("conn")) out.push(le("CPU per conn vs Bun relay", rel?.conn?.cpuPerUnit, 1.1));
    const b = r.vsBestIncumbent;
    for (const w of ["conn", "keepalive"].filter(has))
      out.push(ge(`${rateOf(w)} vs best 1-worker incumbent`, b?.[w]?.rate, 1));
    if (has("bulk")) out.push(ge(`${rateOf("bulk")} vs best 1-worker incumbent`, b?.bulk?.rate, 0.95));
    out.push(le("RSS per idle TLS conn", t.median?.memory?.tlsKiBPerConn, 10, " KiB"));
  } else if (t.runtime === "deno") {
    if (has("conn")) out.push(le("CPU per conn vs Deno relay", r.vsRelay?.conn?.cpuPerUnit, 1.2));
    for (const w of W)
      out.push(ge(`${rateOf(w)} vs best 1-worker incumbent`, r.vsBestIncumbent?.[w]?.rate, 0.9));
    out.push(le("RSS per idle TLS conn", t.median?.memory?.tlsKiBPerConn, 12, " KiB"));
  }
  return out.map((g) => ({ ...g, result: g.ok === null ? "n/a" : g.ok ? "PASS" : "MISS" }));
}

const unitOf = (w) => ({ conn: "conn", keepalive: "request", bulk: "GiB" })[w];
const rateOf = (w) => ({ conn: "conn/s", keepalive: "keep-alive req/s", bulk: "bulk MiB/s" })[w];

/** Markdown lines: one table per alpnmux row with its targets, measured values and PASS/MISS. */
export function goalRows(list) {
  const L = ["", "### The issue's targets (PASS/MISS per alpnmux row; n/a: a reference was not measured)"];
  for (const t of list.filter((x) => x.kind === "alpnmux" && x.status === "ok" && x.goals?.length)) {
    const pass = t.goals.filter((g) => g.result === "PASS").length;
    L.push(
      "",
      `**${t.label}**: ${pass}/${t.goals.length} met`,
      "",
      "| target | measured | goal | |",
      "| --- | ---: | ---: | --- |",
    );
    for (const g of t.goals) {
      const v =
        g.measured === null || g.measured === undefined
          ? "-"
          : `${g.measured.toFixed(g.unit === "x" ? 2 : 1)}${g.unit}`;
      L.push(`| ${g.goal} | ${v} | ${g.limit} | ${g.result} |`);
    }
  }
  return L;
}

// The soak's verdict: what was served and refused, what failed, and whether alpnmux came back
// to its baseline after the load.
//
// Bounds after the settle period (the load stopped, every client closed):
// - descriptors: at most baseline + 10 (the listeners and the admin API are the baseline; a few
//   admin keep-alive connections may linger). A descriptor leak grows with the connections served.
// - open connections (alpnmux_connections_active): 0.
// - RSS: at most baseline x 1.5 + 48 MiB per process. A runtime with a garbage collector keeps
//   much of the heap it grew under load (pages are returned lazily), and the first minutes grow
//   JIT code and pools; the benchmark measures ~5-25 KiB per live connection, so 200 clients and a
//   few MiB-sized streams in flight account for well under 48 MiB per process. A per-connection
//   leak grows with the ~10^4 connections a 2-minute soak serves: "retained per connection served"
//   is printed so a run shows it, and a longer soak (--minutes 10) makes a leak cross the bound.
const MiB = 1024;

export function verdict({
  opt,
  router,
  load,
  baseline,
  peak,
  peakFds,
  final,
  active,
  backends,
  samples,
  lagMaxMs,
  lagP99Ms,
}) {
  const L = [];
  const fail = [];
  const list = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  const served = sum(load.served);
  L.push("", `=== soak result: alpnmux on ${opt.runtime}, workers ${opt.workers}, ${opt.minutes} min ===`);
  L.push(
    `connections served: ${served} (${list(load.served)}); ${fmt(load.ops.streamedBytes / 2 ** 20, 0)} MiB streamed`,
  );
  L.push(
    `validation bursts: ${load.ops.acmeBursts}, acme-tls/1 handshakes checked: ${load.ops.acmeHandshakes}`,
  );
  L.push(`expected refusals: ${sum(load.expected)} (${list(load.expected)})`);
  L.push(`unexpected failures: ${sum(load.unexpected)} (${list(load.unexpected)})`);
  for (const e of load.examples) L.push(`  ${e}`);
  if (sum(load.unexpected)) fail.push("unexpected failures");
  L.push(`route swaps (PUT /v1/routes): ${load.ops.routeSwaps}, SIGHUP reloads: ${load.ops.sighups}`);
  for (const b of backends)
    L.push(
      `backend ${b.name}: ${b.stats.connections} connections, ${b.stats.pings} pings, ${b.stats.streams} streams` +
        (b.name === "proxied"
          ? `, bad PROXY v2 headers ${b.stats.badProxy}${b.stats.badProxyReasons.length ? ` (${b.stats.badProxyReasons.join("; ")})` : ""}`
          : ""),
    );
  if (backends.some((b) => b.stats.badProxy)) fail.push("bad PROXY v2 headers");
  L.push(
    `alpnmux log: ${router.logged.warning} warning, ${router.logged.error} error lines, ${router.logged.other} other output lines (the runtime's own)`,
  );
  for (const e of router.logged.examples) L.push(`  ${e}`);
  if (router.logged.error) fail.push("alpnmux logged errors");

  L.push(
    `soak process event-loop delay: max ${fmt(lagMaxMs, 0)} ms, p99 ${fmt(lagP99Ms, 0)} ms (a long one makes timing checks unreliable)`,
  );
  const alive = router.alive();
  L.push(`alpnmux process tree: ${alive ? `alive, ${final.processes} process(es)` : "DIED"}`);
  if (!alive) fail.push("alpnmux died");
  const rssBound = baseline.rssKiB * 1.5 + 48 * MiB * router.processes;
  const retained = served ? ((final.rssKiB - baseline.rssKiB) * 1024) / served : null;
  L.push(
    `RSS (VmRSS, whole tree): baseline ${mib(baseline.rssKiB)} MiB, peak ${mib(peak.rssKiB)} MiB at ${fmt(peak.t ?? 0, 0)} s, ` +
      `after settle ${mib(final.rssKiB)} MiB (bound ${mib(rssBound)} MiB); retained ${fmt(retained, 0)} bytes per connection served`,
  );
  if (final.rssKiB > rssBound) fail.push("RSS did not come back under the bound");
  // Under a steady load a leak shows as a trend: the median RSS of the second quarter of the run against the last.
  const during = samples.filter((s) => s.t !== undefined);
  const q = (a, b) =>
    medianOf(during.slice(Math.floor(during.length * a), Math.floor(during.length * b)).map((s) => s.rssKiB));
  L.push(
    `RSS under load: median ${mib(q(0.25, 0.5))} MiB in the second quarter, ${mib(q(0.75, 1))} MiB in the last (a leak grows between them)`,
  );
  L.push(
    `descriptors (/proc/PID/fd, whole tree): baseline ${baseline.fds}, peak ${peakFds}, after settle ${final.fds} (bound ${baseline.fds + 10})`,
  );
  if (final.fds > baseline.fds + 10) fail.push("descriptors did not come back");
  L.push(`open connections after settle (alpnmux_connections_active): ${active ?? "unknown"}`);
  if (active !== 0 && active !== null) fail.push("connections still open after the settle period");
  if (served === 0) fail.push("nothing was served");
  const ok = fail.length === 0;
  L.push(ok ? "verdict: PASS" : `verdict: FAIL (${fail.join("; ")})`);
  return {
    ok,
    lines: L,
    doc: {
      opt,
      version: router.version,
      served: load.served,
      expected: load.expected,
      unexpected: load.unexpected,
      examples: load.examples,
      ops: load.ops,
      backends: backends.map((b) => b.stats),
      logged: router.logged,
      baseline,
      peak,
      peakFds,
      final,
      active,
      rssBoundKiB: rssBound,
      fail,
      lagMaxMs,
      lagP99Ms,
    },
  };
}

const medianOf = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : null);
const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const mib = (kib) => fmt(kib / 1024, 1);

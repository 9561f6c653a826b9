#!/usr/bin/env node
// `npm run bench`: the parser micro-benchmark (mitata) on Bun, Node and Deno, then the TLS router
// benchmark (bench/tls.bench.mjs: wrk and nginx through HAProxy, nginx stream, ualpn, the thinnest
// relays and alpnmux on Bun and Deno). Every argument goes to the TLS benchmark, e.g.
//   npm run bench -- --quick
//   npm run bench -- --rounds 3 --only haproxy-auto,alpnmux-bun-workers --workloads conn,keepalive
// (default ~15 min; --quick ~3-4 min; the tables again from a results file: node bench/lib/report.mjs --markdown bench/results.json)
// The raw TCP benchmark (bench/tcp.bench.mjs) is not part of it: node bench/tcp.bench.mjs
import { spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const bin = (n) => path.join(root, "node_modules", ".bin", n);
const args = process.argv.slice(2);
const parse = "packages/core/bench/parse.bench.ts";
const runs = [
  ["bun", [bin("bun"), parse]],
  ["node", [process.execPath, "--import", "tsx", parse]],
  ["deno", [bin("deno"), "run", "-A", parse]],
];
const lines = [];
for (const [name, [cmd, ...rest]] of runs) {
  process.stdout.write(`\n=== parser benchmark on ${name} ===\n`);
  const r = spawnSync(cmd, rest, { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  lines.push(...r.stdout.split("\n").filter((l) => l.startsWith("BENCH ")));
}
process.stdout.write(`\n=== parser summary ===\n${lines.join("\n")}\n`);
process.stdout.write("\n=== TLS router benchmark (bench/tls.bench.mjs) ===\n");
const r = spawnSync(process.execPath, ["bench/tls.bench.mjs", ...args], { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);

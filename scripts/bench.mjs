#!/usr/bin/env node
// `npm run bench`: the parser micro-benchmark (mitata) on Bun, Node and Deno, then the router
// benchmark against HAProxy and nginx (bench/router.bench.mjs). Pass --quick for a short run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const bin = (n) => path.join(root, "node_modules", ".bin", n);
const quick = process.argv.includes("--quick");
const parse = "packages/core/bench/parse.bench.ts";
const runs = [
  ["bun", [bin("bun"), parse]],
  ["node", [process.execPath, "--import", "tsx", parse]],
  ["deno", [bin("deno"), "run", "-A", parse]],
];
const lines = [];
for (const [name, [cmd, ...args]] of runs) {
  process.stdout.write(`\n=== parser benchmark on ${name} ===\n`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  lines.push(...r.stdout.split("\n").filter((l) => l.startsWith("BENCH ")));
}
process.stdout.write(`\n=== parser summary ===\n${lines.join("\n")}\n`);
if (existsSync(path.join(root, "bench/router.bench.mjs"))) {
  process.stdout.write("\n=== router benchmark (alpnmux vs HAProxy vs nginx) ===\n");
  const r = spawnSync(process.execPath, ["bench/router.bench.mjs", ...(quick ? ["--quick"] : [])], {
    cwd: root,
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}

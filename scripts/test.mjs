#!/usr/bin/env node
// `npm test`: type-check, lint, the core unit tests on Node, Bun and Deno (the same files), and
// the end-to-end suites. Prints one line per runner and ends with `N passed, N failed` summed
// over all of them. A runner that ran no test or whose summary cannot be read counts as failed.
// Usage: node scripts/test.mjs [--only typecheck,lint,node,bun,deno,e2e]
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const bin = (n) => path.join(root, "node_modules", ".bin", n);
const onlyArg = process.argv.indexOf("--only");
const only = onlyArg > 0 ? new Set(process.argv[onlyArg + 1].split(",")) : null;

function files(dir, re) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) continue;
    if (statSync(p).isDirectory()) out.push(...files(p, re));
    else if (re.test(name)) out.push(p);
  }
  return out.sort();
}

/** Runs a command, streaming its output, and returns { code, output }. */
function run(cmd, args, { env = {}, timeoutMs = 15 * 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", ...env },
    });
    let output = "";
    const onData = (stream) => (d) => {
      output += d;
      stream.write(d);
    };
    child.stdout.on("data", onData(process.stdout));
    child.stderr.on("data", onData(process.stderr));
    const timer = setTimeout(() => {
      output += `\n[test.mjs] ${cmd} timed out after ${timeoutMs} ms\n`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      output += `\n[test.mjs] cannot run ${cmd}: ${e.message}\n`;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Each parser returns { passed, failed } or null when no summary is found. */
const parsers = {
  node(out) {
    const pass = [...out.matchAll(/^(?:#|ℹ) pass (\d+)$/gm)].pop();
    const fail = [...out.matchAll(/^(?:#|ℹ) fail (\d+)$/gm)].pop();
    return pass && fail ? { passed: +pass[1], failed: +fail[1] } : null;
  },
  bun(out) {
    const pass = [...out.matchAll(/^\s*(\d+) pass$/gm)].pop();
    const fail = [...out.matchAll(/^\s*(\d+) fail$/gm)].pop();
    return pass && fail ? { passed: +pass[1], failed: +fail[1] } : null;
  },
  deno(out) {
    const m = [
      ...out.matchAll(
        /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/gm,
      ),
    ].pop();
    if (!m) return null;
    return { passed: +(m[2] ?? m[1]), failed: +(m[4] ?? m[3]) };
  },
  /** A check (type-check, lint) counts as one test. */
  check(_out, code) {
    return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
  },
};

const coreTests = files(path.join(root, "packages"), /\.test\.ts$/).filter(
  (f) => !f.includes(`${path.sep}node_modules${path.sep}`),
);
// tests/bun runs in-process on Bun; everything else under tests/ is driven from Node.
const e2eTests = files(path.join(root, "tests"), /\.test\.ts$/).filter(
  (f) => !f.includes(`${path.sep}_harness${path.sep}`) && !f.includes(`${path.sep}bun${path.sep}`),
);
const bunTests = files(path.join(root, "tests", "bun"), /\.test\.ts$/);
// The JSDoc `@example` blocks of packages/core (not its tests or test helpers), run as doc tests.
const coreDocFiles = files(path.join(root, "packages", "core", "src"), /\.ts$/).filter(
  (f) => !f.endsWith(".test.ts") && !f.includes(`${path.sep}_test${path.sep}`),
);
// The same e2e suite against the Deno listener; the compiled-binary smoke test is Bun's, and
// the harness self-test runs no router.
const denoE2eTests = e2eTests.filter(
  (f) => f.includes(`${path.sep}e2e${path.sep}`) && !/(binary|harness)\.test\.ts$/.test(f),
);
const tsProjects = [
  "packages/core/tsconfig.json",
  "packages/core/tsconfig.test.json",
  "packages/bun-listener/tsconfig.json",
  "packages/deno-listener/tsconfig.json",
  "tests/tsconfig.json",
  "tests/bun/tsconfig.json",
];

const steps = [
  {
    name: "tools",
    kind: "check",
    cmd: process.execPath,
    args: [path.join(root, "scripts/ensure-tools.mjs")],
    group: "e2e",
  },
  ...tsProjects.map((p) => ({
    name: `typecheck ${p}`,
    kind: "check",
    cmd: bin("tsc"),
    args: ["-p", p],
    group: "typecheck",
  })),
  { name: "lint (biome)", kind: "check", cmd: bin("biome"), args: ["check", "."], group: "lint" },
  {
    name: "unit: node",
    kind: "node",
    cmd: process.execPath,
    args: ["--import", "tsx", "--test", "--test-reporter=tap", ...coreTests],
    group: "node",
  },
  {
    name: "unit: bun",
    kind: "bun",
    cmd: bin("bun"),
    args: ["test", ...coreTests.map((f) => `./${path.relative(root, f)}`)],
    group: "bun",
  },
  {
    name: "unit: deno",
    kind: "deno",
    cmd: bin("deno"),
    args: ["test", "-A", "--no-check", ...coreTests],
    group: "deno",
  },
  {
    name: "doc tests: deno test --doc (core JSDoc examples)",
    kind: "deno",
    cmd: bin("deno"),
    args: ["test", "--doc", "-A", ...coreDocFiles],
    group: "deno",
  },
  {
    name: "adapter: bun (tests/bun)",
    kind: "bun",
    cmd: bin("bun"),
    args: ["test", ...bunTests.map((f) => `./${path.relative(root, f)}`)],
    group: "e2e",
  },
  {
    name: "e2e: node runner",
    kind: "node",
    cmd: process.execPath,
    args: ["--import", "tsx", "--test", "--test-reporter=tap", "--test-concurrency=1", ...e2eTests],
    group: "e2e",
    timeoutMs: 20 * 60_000,
  },
  {
    name: "e2e: deno listener (same suite, ALPNMUX_CMD=alpnmux-deno)",
    kind: "node",
    cmd: process.execPath,
    args: ["--import", "tsx", "--test", "--test-reporter=tap", "--test-concurrency=1", ...denoE2eTests],
    env: { ALPNMUX_CMD: bin("alpnmux-deno") },
    group: "e2e",
    timeoutMs: 20 * 60_000,
  },
];

mkdirSync(path.join(root, "tests", ".work"), { recursive: true });
const results = [];
for (const s of steps) {
  if (only && !only.has(s.group)) continue;
  if (s.group === "e2e" && s.name !== "tools" && e2eTests.length === 0) continue;
  process.stdout.write(`\n=== ${s.name} ===\n`);
  const started = Date.now();
  const { code, output } = await run(s.cmd, s.args, { timeoutMs: s.timeoutMs, env: s.env });
  let r = parsers[s.kind](strip(output), code);
  let note = "";
  if (!r) {
    r = { passed: 0, failed: 1 };
    note = " (no test summary found: counted as failed)";
  } else if (r.passed + r.failed === 0) {
    r = { passed: 0, failed: 1 };
    note = " (ran no test: counted as failed)";
  } else if (code !== 0 && r.failed === 0) {
    r = { passed: r.passed, failed: 1 };
    note = ` (exit code ${code} with no failed test: counted as one failure)`;
  }
  results.push({ name: s.name, ...r, note, secs: ((Date.now() - started) / 1000).toFixed(1) });
  if (s.name === "tools" && code !== 0) break;
}

process.stdout.write("\n=== summary ===\n");
let passed = 0;
let failed = 0;
for (const r of results) {
  passed += r.passed;
  failed += r.failed;
  process.stdout.write(
    `${r.failed ? "FAIL" : "ok  "} ${r.name}: ${r.passed} passed, ${r.failed} failed in ${r.secs}s${r.note}\n`,
  );
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);

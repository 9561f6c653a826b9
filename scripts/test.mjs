#!/usr/bin/env node
// `npm test`: checks (the system tools, type-check of every project, lint, the core JSDoc
// examples) and tests (the core unit tests on Node, Bun and Deno, the Bun and Deno adapter tests, the
// end-to-end suite against the Bun and the Deno CLI). Prints one line per step, then
// `checks: N ok, N failed`, and ends with `N passed, N failed`: the tests summed over all
// runners, where a test is a leaf (`describe` groups are not counted), plus one failure for each
// failed check and for each test step that could not run. Passing checks add nothing.
// A test step that found no test file, ran no test, or whose summary cannot be read, fails.
// Everything runs even when a step before it failed; only the e2e steps need the tools step.
//
// Usage: node scripts/test.mjs [--only GROUP,...] [--budget-min N]
//   groups: tools, typecheck, lint, doc, node, bun, deno, adapter, e2e;
//   unit = typecheck,lint,doc,node,bun,deno,adapter (no system tools, no root needed).
//   --budget-min N (default 24): wall-clock budget, so CI stays under 25 minutes; a step still
//   running at its end is killed (and fails), steps not started by then fail as "not run".
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const bin = (n) => path.join(root, "node_modules", ".bin", n);
const rel = (f) => `./${path.relative(root, f)}`;

const GROUPS = ["tools", "typecheck", "lint", "doc", "node", "bun", "deno", "adapter", "e2e"];
const ALIASES = { unit: ["typecheck", "lint", "doc", "node", "bun", "deno", "adapter"] };
const onlyArg = process.argv.indexOf("--only");
let only = null;
if (onlyArg > 0) {
  only = new Set((process.argv[onlyArg + 1] ?? "").split(",").flatMap((g) => ALIASES[g] ?? [g]));
  if (only.has("e2e")) only.add("tools");
  const unknown = [...only].filter((g) => !GROUPS.includes(g));
  if (unknown.length > 0 || only.size === 0) {
    console.error(`test.mjs: unknown group ${unknown.join(",")}; groups: ${GROUPS.join(", ")}, unit`);
    process.exit(2);
  }
}
const budgetArg = process.argv.indexOf("--budget-min");
const budgetMs = Number(budgetArg > 0 ? process.argv[budgetArg + 1] : 24) * 60_000;
if (!(budgetMs > 0)) {
  console.error("test.mjs: --budget-min needs a positive number of minutes");
  process.exit(2);
}
const deadline = Date.now() + budgetMs;

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
function run(cmd, args, { env = {}, timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", ...env },
    });
    let output = "";
    let timedOut = false;
    const onData = (stream) => (d) => {
      output += d;
      stream.write(d);
    };
    child.stdout.on("data", onData(process.stdout));
    child.stderr.on("data", onData(process.stderr));
    const timer = setTimeout(() => {
      timedOut = true;
      output += `\n[test.mjs] ${cmd} timed out after ${Math.round(timeoutMs / 1000)} s\n`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      output += `\n[test.mjs] cannot run ${cmd}: ${e.message}\n`;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output, timedOut });
    });
  });
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
const num = (out, re) => {
  const m = [...out.matchAll(re)].pop();
  return m ? +m[1] : undefined;
};

/** Test-runner summaries: { passed, failed, skipped } counting leaf tests, or null if none is found. */
const parsers = {
  // node:test counts tests and suites apart (`# tests`, `# suites`); pass/fail are tests only.
  node(out) {
    const get = (w) => num(out, new RegExp(`^(?:#|ℹ) ${w} (\\d+)$`, "gm"));
    const [pass, fail, cancelled, skipped, todo] = ["pass", "fail", "cancelled", "skipped", "todo"].map(get);
    if (pass === undefined || fail === undefined) return null;
    return { passed: pass, failed: fail + (cancelled ?? 0), skipped: (skipped ?? 0) + (todo ?? 0) };
  },
  // Bun counts tests only, never describe blocks.
  bun(out) {
    const get = (w) => num(out, new RegExp(`^\\s*(\\d+) ${w}$`, "gm"));
    const [pass, fail, skip, todo] = ["pass", "fail", "skip", "todo"].map(get);
    if (pass === undefined || fail === undefined) return null;
    return { passed: pass, failed: fail, skipped: (skip ?? 0) + (todo ?? 0) };
  },
  // Deno runs each node:test `describe` as a test whose `it`s are steps, and its summary
  // ("ok | 73 passed (558 steps) | 0 failed") counts groups with the tests. So count the leaves of
  // the printed tree: a result line ("name ... ok") is a group when the result line before it
  // is indented deeper (its steps), else a test. The number of result lines must match the summary.
  deno(out) {
    const summary = [...out.matchAll(/^(?:ok|FAILED) \| (.+)$/gm)].pop();
    if (!summary) return null;
    let expected = 0;
    for (const m of summary[1].matchAll(/(\d+) (passed|failed|ignored)(?: \((\d+) steps?\))?/g)) {
      expected += +m[1] + +(m[3] ?? 0);
    }
    const counts = { passed: 0, failed: 0, skipped: 0 };
    let lines = 0;
    let prevIndent = -1;
    let inOutput = false;
    for (const line of out.slice(0, summary.index).split("\n")) {
      // What a test prints is framed; the ERRORS / FAILURES lists at the end repeat test names.
      if (/^-+ output -+$/.test(line)) inOutput = true;
      if (/^-+ output end -+$/.test(line)) inOutput = false;
      if (inOutput) continue;
      if (/^ (ERRORS|FAILURES) $/.test(line)) break;
      if (/^running \d+ tests? from /.test(line)) prevIndent = -1;
      const m = /^( *)\S.* \.\.\. (ok|FAILED|ignored)(?: \(.*\))?$/.exec(line);
      if (!m) continue;
      lines++;
      const indent = m[1].length;
      if (prevIndent <= indent) {
        if (m[2] === "ok") counts.passed++;
        else if (m[2] === "ignored") counts.skipped++;
        else counts.failed++;
      }
      prevIndent = indent;
    }
    if (lines !== expected) return null;
    return counts;
  },
};

const readJson = (f) => JSON.parse(readFileSync(path.join(root, f), "utf8"));
// The root tsconfig.json lists every TypeScript project as a reference; each is checked with
// `tsc -p` (no build info files, one result per project).
const tsProjects = readJson("tsconfig.json").references.map((r) =>
  path.relative(root, path.join(root, r.path, r.path.endsWith(".json") ? "" : "tsconfig.json")),
);
const coreTests = files(path.join(root, "packages"), /\.test\.ts$/);
// tests/bun runs in-process on Bun, tests/deno on Deno; everything else under tests/ is driven
// from Node.
const e2eTests = files(path.join(root, "tests"), /\.test\.ts$/).filter(
  (f) =>
    !f.includes(`${path.sep}_harness${path.sep}`) &&
    !f.includes(`${path.sep}bun${path.sep}`) &&
    !f.includes(`${path.sep}deno${path.sep}`),
);
const bunTests = files(path.join(root, "tests", "bun"), /\.test\.ts$/);
const denoAdapterTests = files(path.join(root, "tests", "deno"), /\.test\.ts$/);
// The JSDoc `@example` blocks of packages/core/src (not its tests or test helpers).
const coreDocFiles = files(path.join(root, "packages", "core", "src"), /\.tsx?$/).filter(
  (f) => !f.endsWith(".test.ts") && !f.includes(`${path.sep}_test${path.sep}`),
);
// The same e2e suite against the Deno listener; the compiled-binary smoke test is Bun's, and
// the harness self-test runs no router.
const denoE2eTests = e2eTests.filter(
  (f) => f.includes(`${path.sep}e2e${path.sep}`) && !/(binary|harness)\.test\.ts$/.test(f),
);

const nodeTest = (extra, list) => ["--import", "tsx", "--test", "--test-reporter=tap", ...extra, ...list];

/**
 * A step is a check (passes when it exits 0) or a test run (kind: its runner's parser; `files`
 * must not be empty). `needsTools`: not run, and failed, when the tools step failed.
 */
const steps = [
  {
    name: "tools (scripts/ensure-tools.mjs)",
    group: "tools",
    cmd: process.execPath,
    args: [path.join(root, "scripts/ensure-tools.mjs")],
    tools: true,
  },
  ...tsProjects.map((p) => ({
    name: `typecheck ${p}`,
    group: "typecheck",
    cmd: bin("tsc"),
    args: ["-p", p],
  })),
  { name: "lint (biome check .)", group: "lint", cmd: bin("biome"), args: ["check", "."] },
  {
    name: "unit: node",
    group: "node",
    kind: "node",
    files: coreTests,
    cmd: process.execPath,
    args: nodeTest([], coreTests),
  },
  {
    name: "unit: bun",
    group: "bun",
    kind: "bun",
    files: coreTests,
    cmd: bin("bun"),
    args: ["test", ...coreTests.map(rel)],
  },
  {
    name: "unit: deno",
    group: "deno",
    kind: "deno",
    files: coreTests,
    cmd: bin("deno"),
    args: ["test", "-A", "--no-check", ...coreTests],
  },
  {
    name: "adapter: bun (tests/bun)",
    group: "adapter",
    kind: "bun",
    files: bunTests,
    cmd: bin("bun"),
    args: ["test", ...bunTests.map(rel)],
  },
  {
    name: "adapter: deno (tests/deno)",
    group: "adapter",
    kind: "deno",
    files: denoAdapterTests,
    cmd: bin("deno"),
    args: ["test", "-A", "--no-check", ...denoAdapterTests],
  },
  {
    name: "doc examples: deno test --doc packages/core/src",
    group: "doc",
    cmd: bin("deno"),
    args: ["test", "--doc", "-A", ...coreDocFiles],
    examples: true,
  },
  {
    name: "e2e: bun CLI (node runner)",
    group: "e2e",
    kind: "node",
    files: e2eTests,
    needsTools: true,
    cmd: process.execPath,
    args: nodeTest(["--test-concurrency=1"], e2eTests),
    timeoutMs: 20 * 60_000,
  },
  {
    name: "e2e: deno CLI (same suite, ALPNMUX_CMD=alpnmux-deno)",
    group: "e2e",
    kind: "node",
    files: denoE2eTests,
    needsTools: true,
    cmd: process.execPath,
    args: nodeTest(["--test-concurrency=1"], denoE2eTests),
    env: { ALPNMUX_CMD: bin("alpnmux-deno") },
    timeoutMs: 20 * 60_000,
  },
];

/** Why a step cannot run, or undefined. */
function cannotRun(s, toolsFailed) {
  if (s.kind && s.files.length === 0) return "no test files found";
  if (s.needsTools && toolsFailed) return "not run: the tools step failed";
  if (Date.now() >= deadline) return `not run: the ${budgetMs / 60_000}-minute budget is used up`;
  return undefined;
}

/** { ok, passed, failed, skipped, note } of a finished step. */
function judge(s, code, output, timedOut) {
  const out = strip(output);
  if (!s.kind) {
    const ok = code === 0 && !timedOut;
    const notes = [];
    if (s.examples) {
      // Deno reports each example as a test; together they are one check.
      const r = parsers.deno(out);
      notes.push(r ? `${r.passed + r.failed} examples type-checked and run` : "no examples ran");
    }
    if (s.tools && !ok) {
      const advice = /^\s*((?:sudo )?apt-get install .*)$/m.exec(out);
      notes.push(
        advice ? `missing tools; install them with: ${advice[1].trim()}` : out.trim().split("\n").pop(),
      );
    } else if (timedOut) notes.push("timed out");
    else if (!ok) notes.push(`exit code ${code}`);
    return { ok, passed: 0, failed: ok ? 0 : 1, skipped: 0, note: notes.join("; ") };
  }
  const r = parsers[s.kind](out);
  const fail = (note, counts = { passed: 0, skipped: 0 }) => ({ ...counts, ok: false, failed: 1, note });
  if (!r) return fail(timedOut ? "timed out; no test summary" : "no test summary found: counted as failed");
  if (r.passed + r.failed === 0) return fail("ran no test: counted as failed", r);
  if (code !== 0 && r.failed === 0)
    return fail(`exit code ${code} with no failed test: counted as one failure`, r);
  return { ...r, ok: r.failed === 0, note: timedOut ? "timed out" : "" };
}

mkdirSync(path.join(root, "tests", ".work"), { recursive: true });
const started = Date.now();
const results = [];
let toolsFailed = false;
for (const s of steps) {
  if (only && !only.has(s.group)) continue;
  const why = cannotRun(s, toolsFailed);
  if (why) {
    process.stdout.write(`\n=== ${s.name}: ${why} ===\n`);
    results.push({ s, ok: false, passed: 0, failed: 1, skipped: 0, note: why, secs: "0.0" });
    continue;
  }
  process.stdout.write(`\n=== ${s.name} ===\n`);
  const t0 = Date.now();
  const timeoutMs = Math.min(s.timeoutMs ?? 15 * 60_000, deadline - t0);
  const { code, output, timedOut } = await run(s.cmd, s.args, { timeoutMs, env: s.env });
  const r = judge(s, code, output, timedOut);
  if (s.tools && !r.ok) toolsFailed = true;
  results.push({ s, ...r, secs: ((Date.now() - t0) / 1000).toFixed(1) });
}

process.stdout.write("\n=== summary ===\n");
let passed = 0;
let failed = 0;
let skipped = 0;
const checks = { ok: 0, failed: 0 };
for (const r of results) {
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  const head = `${r.ok ? "ok  " : "FAIL"} ${r.s.kind ? "tests" : "check"} ${r.s.name}`;
  let body;
  if (r.s.kind) {
    body = `: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}`;
  } else {
    checks[r.ok ? "ok" : "failed"]++;
    body = "";
  }
  process.stdout.write(`${head}${body} in ${r.secs}s${r.note ? ` (${r.note})` : ""}\n`);
}
const total = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`checks: ${checks.ok} ok, ${checks.failed} failed\n`);
if (skipped > 0) process.stdout.write(`skipped tests: ${skipped}\n`);
process.stdout.write(`total time: ${total}s\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);

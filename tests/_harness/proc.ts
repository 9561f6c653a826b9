/**
 * @module proc — test workspaces and child processes that never outlive the test.
 *
 * A {@link Workspace} owns a directory `tests/.work/<name>/` (wiped at creation) and a LIFO
 * list of cleanups. {@link spawnProc} starts a child in its own process group, tees stdout and
 * stderr into `<dir>/<label>.log`, keeps the lines in memory, and registers a cleanup that
 * SIGTERMs the group (SIGKILL after 2 s). A process-exit hook SIGKILLs any group still alive,
 * and on Linux each child runs under `setpriv --pdeathsig KILL`, so even a SIGKILLed test
 * process (e.g. a runner timeout) leaves no child behind. Children that fork (nginx) are run
 * single-process for the same reason.
 *
 * @example
 * const ws = workspace('harness', after)          // node:test `after` runs ws.cleanup()
 * const p = spawnProc(ws, 'sleep', ['sleep', '60'])
 * await p.waitForLine(/ready/)
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (two levels above this file). */
export const repoRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

type Cleanup = () => void | Promise<void>;

/** A per-test directory plus cleanups run in reverse order. */
export interface Workspace {
  readonly name: string;
  /** `tests/.work/<name>`, created empty. */
  readonly dir: string;
  /** Registers a cleanup; cleanups run last-in first-out. */
  defer(fn: Cleanup): void;
  /** Makes (and returns) a sub-directory of `dir`. */
  subdir(name: string): string;
  /** Runs all cleanups; errors are collected and rethrown as one AggregateError. */
  cleanup(): Promise<void>;
}

/**
 * Creates `tests/.work/<name>/` (removing an old one) and, if `register` is given (node:test
 * `after`, or `(fn) => t.after(fn)`), registers `cleanup()` with it.
 */
export function workspace(name: string, register?: (fn: () => Promise<void>) => void): Workspace {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  const dir = path.join(repoRoot, "tests", ".work", safe);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const cleanups: Cleanup[] = [];
  const ws: Workspace = {
    name: safe,
    dir,
    defer: (fn) => {
      cleanups.push(fn);
    },
    subdir: (sub) => {
      const d = path.join(dir, sub);
      fs.mkdirSync(d, { recursive: true });
      return d;
    },
    cleanup: async () => {
      const errors: unknown[] = [];
      while (cleanups.length > 0) {
        const fn = cleanups.pop();
        try {
          await fn?.();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, `cleanup of ${safe} failed`);
    },
  };
  register?.(() => ws.cleanup());
  return ws;
}

// ---- process-group bookkeeping: nothing outlives the test process -------------------------

const liveGroups = new Set<number>();
let hooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const pid of liveGroups) killGroup(pid, "SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      for (const pid of liveGroups) killGroup(pid, "SIGKILL");
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  }
}

export interface ProcExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running child process with captured output. */
export interface Proc {
  readonly label: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** `<workspace>/<label>.log`: stdout and stderr as they arrived (stderr lines prefixed `! `). */
  readonly logPath: string;
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  /** stdout + stderr text so far (stderr after stdout). */
  output(): string;
  /** `undefined` while running. */
  exitStatus(): ProcExit | undefined;
  readonly exited: Promise<ProcExit>;
  /**
   * Resolves with the first line (stdout or stderr, already seen or future) that matches;
   * rejects on timeout (default 10 s) or if the process exits first.
   */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  /** SIGTERM to the group, SIGKILL after `graceMs` (default 2000). Idempotent. */
  stop(graceMs?: number): Promise<ProcExit>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Text written to stdin, then stdin is closed. Default: stdin is /dev/null. */
  stdin?: string;
  /** Don't register a cleanup with the workspace (caller stops it). */
  noCleanup?: boolean;
  /** Don't wrap in `setpriv --pdeathsig KILL` (see {@link spawnProc}). */
  noPdeathsig?: boolean;
}

const SETPRIV = "/usr/bin/setpriv";
let hasSetpriv: boolean | undefined;

/** argv wrapped so the kernel SIGKILLs the child if this process dies without cleanup (Linux). */
function withPdeathsig(argv: readonly string[]): readonly string[] {
  hasSetpriv ??= process.platform === "linux" && fs.existsSync(SETPRIV);
  return hasSetpriv ? [SETPRIV, "--pdeathsig", "KILL", "--", ...argv] : argv;
}

/** Spawns `argv[0]` with `argv.slice(1)` in a new process group; see module doc. */
export function spawnProc(
  ws: Workspace,
  label: string,
  argv: readonly string[],
  opts: SpawnOptions = {},
): Proc {
  installHooks();
  if (argv.length === 0) throw new TypeError("spawnProc: empty argv");
  const [cmd, ...args] = opts.noPdeathsig ? argv : withPdeathsig(argv);
  if (cmd === undefined) throw new TypeError("spawnProc: empty argv");
  const logPath = path.join(ws.dir, `${label}.log`);
  const log = fs.createWriteStream(logPath, { flags: "a" });
  log.write(`$ ${argv.map((a) => (a === "" || /[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(" ")}\n`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? repoRoot,
    env,
    detached: true,
    stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) {
    child.once("error", () => {});
    log.end();
    throw new Error(`Cannot spawn ${cmd} (not on PATH?)`);
  }
  liveGroups.add(pid);
  if (opts.stdin !== undefined) {
    child.stdin?.on("error", () => {}); // EPIPE if the child exits first
    child.stdin?.end(opts.stdin);
  }

  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  const lineSplitter = (into: string[], prefix: string) => {
    let rest = "";
    return {
      push(chunk: Buffer) {
        log.write(prefix === "" ? chunk : chunk.toString("utf8").replace(/^(?=.)/gm, prefix));
        rest += chunk.toString("utf8");
        const parts = rest.split("\n");
        rest = parts.pop() ?? "";
        for (const l of parts) {
          into.push(l);
          for (const w of waiters) w(l);
        }
      },
      flush() {
        if (rest !== "") {
          into.push(rest);
          for (const w of waiters) w(rest);
          rest = "";
        }
      },
    };
  };
  const out = lineSplitter(stdoutLines, "");
  const err = lineSplitter(stderrLines, "! ");
  child.stdout?.on("data", (c: Buffer) => out.push(c));
  child.stderr?.on("data", (c: Buffer) => err.push(c));

  let status: ProcExit | undefined;
  const exited = new Promise<ProcExit>((resolve) => {
    child.once("error", (e) => {
      log.write(`! spawn error: ${String(e)}\n`);
      status ??= { code: null, signal: null };
      liveGroups.delete(pid);
      resolve(status);
    });
    child.once("close", (code, signal) => {
      out.flush();
      err.flush();
      status = { code, signal };
      log.end(`# exited code=${code} signal=${signal}\n`);
      // The leader is gone; kill anything it left in its group.
      killGroup(pid, "SIGKILL");
      liveGroups.delete(pid);
      resolve(status);
    });
  });

  const stop = async (graceMs = 2000): Promise<ProcExit> => {
    if (status !== undefined) {
      killGroup(pid, "SIGKILL");
      return status;
    }
    killGroup(pid, "SIGTERM");
    const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
    const s = await exited;
    clearTimeout(timer);
    return s;
  };

  const proc: Proc = {
    label,
    child,
    pid,
    logPath,
    stdoutLines,
    stderrLines,
    output: () => [...stdoutLines, ...stderrLines].join("\n"),
    exitStatus: () => status,
    exited,
    stop,
    waitForLine: (match, timeoutMs = 10_000) => {
      const test = typeof match === "function" ? match : (l: string) => match.test(l);
      const seen = [...stdoutLines, ...stderrLines].find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const done = () => {
          waiters.delete(onLine);
          clearTimeout(timer);
        };
        const onLine = (l: string) => {
          if (test(l)) {
            done();
            resolve(l);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `${label}: timed out after ${timeoutMs} ms waiting for ${String(match)}; log: ${logPath}`,
            ),
          );
        }, timeoutMs);
        waiters.add(onLine);
        void exited.then((s) => {
          if (!waiters.has(onLine)) return;
          done();
          reject(
            new Error(
              `${label} exited (code=${s.code} signal=${s.signal}) before ${String(match)}; log: ${logPath}`,
            ),
          );
        });
      });
    },
  };
  if (!opts.noCleanup) ws.defer(() => stop().then(() => undefined));
  return proc;
}

/** Runs a command to completion (own process group, killed after `timeoutMs`, default 60 s). */
export async function runProc(
  ws: Workspace,
  label: string,
  argv: readonly string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<ProcExit & { output: string; stdout: string; stderr: string; timedOut: boolean; proc: Proc }> {
  const p = spawnProc(ws, label, argv, opts);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop(500);
  }, opts.timeoutMs ?? 60_000);
  const s = await p.exited;
  clearTimeout(timer);
  return {
    ...s,
    timedOut,
    output: p.output(),
    stdout: p.stdoutLines.join("\n"),
    stderr: p.stderrLines.join("\n"),
    proc: p,
  };
}

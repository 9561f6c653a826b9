/**
 * @module router — starts the alpnmux CLI under test and collects its JSON log lines.
 *
 * The command is `node_modules/.bin/alpnmux` unless `ALPNMUX_CMD` is set: a whitespace-separated
 * argv prefix (e.g. `./dist/alpnmux` or `deno run -A packages/deno-listener/src/cli.ts`), so the
 * same e2e suite runs against other builds. Readiness = every `--listen` address accepts TCP.
 *
 * @example
 * const r = await spawnRouter(ws, ['--listen', `127.0.0.1:${port}`, '--default', `127.0.0.1:${be.port}`])
 * await r.waitForLog((l) => l.msg === 'route')
 */
import fs from "node:fs";
import path from "node:path";
import { waitForPort } from "./ports.ts";
import { type Proc, repoRoot, spawnProc, type Workspace } from "./proc.ts";

/** One parsed JSON log line (fields are whatever the router logs). */
export type LogLine = Record<string, unknown>;

export interface Router {
  readonly proc: Proc;
  /** The argv actually run. */
  readonly argv: readonly string[];
  /** Ports from the `--listen` arguments. */
  readonly ports: number[];
  /** stdout and stderr lines that parse as JSON objects. */
  logs(): LogLine[];
  /** Resolves with the first JSON log line (past or future) satisfying `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

export interface RouterOptions {
  /** Label for the log file (default `alpnmux`). */
  label?: string;
  env?: Record<string, string>;
  /** How long to wait for readiness (default 15 s). */
  readyTimeoutMs?: number;
  /** Ports to wait for instead of those parsed from `--listen`. */
  waitPorts?: number[];
  /** Don't wait for readiness (for tests of startup errors). */
  noWait?: boolean;
}

/** The argv prefix for the router: `ALPNMUX_CMD` split on whitespace, or the workspace bin. */
export function routerCommand(): string[] {
  const env = process.env["ALPNMUX_CMD"]?.trim();
  if (env !== undefined && env !== "") return env.split(/\s+/);
  return [path.join(repoRoot, "node_modules", ".bin", "alpnmux")];
}

/** One stdout line as a JSON log object, or undefined. */
export function parseJson(line: string): LogLine | undefined {
  const t = line.trim();
  if (!t.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

/** Ports of every `--listen HOST:PORT` / `--listen=HOST:PORT` / `[::1]:PORT` argument. */
export function listenPorts(args: readonly string[]): number[] {
  const ports: number[] = [];
  args.forEach((a, i) => {
    let v: string | undefined;
    if (a === "--listen") v = args[i + 1];
    else if (a.startsWith("--listen=")) v = a.slice("--listen=".length);
    const m = v === undefined ? null : /:(\d+)$/.exec(v);
    if (m?.[1] !== undefined) ports.push(Number(m[1]));
  });
  return ports;
}

/** Spawns the router with `args` and waits until every listen port accepts connections. */
export async function spawnRouter(
  ws: Workspace,
  args: readonly string[],
  opts: RouterOptions = {},
): Promise<Router> {
  const cmd = routerCommand();
  const first = cmd[0];
  if (first?.includes("/") && !fs.existsSync(first)) {
    throw new Error(`Router command not found: ${first} (build the CLI or set ALPNMUX_CMD)`);
  }
  const argv = [...cmd, ...args];
  const proc = spawnProc(ws, opts.label ?? "alpnmux", argv, {
    ...(opts.env !== undefined ? { env: opts.env } : {}),
  });
  const ports = listenPorts(args);
  const logs = () =>
    [...proc.stdoutLines, ...proc.stderrLines].map(parseJson).filter((l): l is LogLine => l !== undefined);
  const router: Router = {
    proc,
    argv,
    ports,
    logs,
    waitForLog: async (pred, timeoutMs = 10_000) => {
      const line = await proc.waitForLine((l) => {
        const j = parseJson(l);
        return j !== undefined && pred(j);
      }, timeoutMs);
      return parseJson(line) as LogLine;
    },
    stop: async () => {
      await proc.stop();
    },
  };
  if (!opts.noWait) {
    const abort = () => {
      const s = proc.exitStatus();
      return s === undefined
        ? undefined
        : `router exited (code=${s.code} signal=${s.signal}); log: ${proc.logPath}\n${proc.output().slice(-2000)}`;
    };
    const timeoutMs = opts.readyTimeoutMs ?? 15_000;
    await Promise.all((opts.waitPorts ?? ports).map((port) => waitForPort(port, { timeoutMs, abort })));
  }
  return router;
}

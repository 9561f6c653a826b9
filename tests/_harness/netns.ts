/**
 * @module netns — a private network namespace whose loopback behaves like a real 1500-byte-MTU
 * link, for tests that need the kernel (not the test) to split a ClientHello into TCP segments.
 *
 * {@link startNetns} runs `unshare -n` with a `sleep` that holds the namespace open, then sets
 * up `lo` as FACTS.md describes: `mtu 1500 up`, `gso_max_segs 1 gso_max_size 1500` (else lo
 * still sends one 64 KiB segment) and a `tbf` rate limit, so the second segment of a 1.5 KB hello
 * arrives a little after the first and the reader sees two reads. Every other process joins it
 * with `nsenter -t <pid> -n`, runs as a {@link spawnProc} child (own process group, killed at
 * cleanup and on parent death), and is reachable only from inside: ports in the namespace are
 * all free, so tests may use fixed ones. Needs root, `unshare`/`nsenter` (util-linux) and
 * `ip`/`tc`/`ss` (Debian package `iproute2`); {@link netnsUnavailable} says why not.
 *
 * @example
 * const ns = await startNetns(ws)
 * const be = ns.spawn(ws, 'backend', ['node', 'server.js'])
 * await ns.waitForPort(8443)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { type Proc, repoRoot, type SpawnOptions, spawnProc, type Workspace } from "./proc.ts";
import type { LogLine, Router } from "./router.ts";
import { parseJson, routerCommand } from "./router.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running private network namespace. */
export interface Netns {
  /** Pid of the process holding the namespace. */
  readonly pid: number;
  /** `argv` prefixed with `nsenter -t <pid> -n --`. */
  wrap(argv: readonly string[]): string[];
  /** {@link spawnProc} inside the namespace. */
  spawn(ws: Workspace, label: string, argv: readonly string[], opts?: SpawnOptions): Proc;
  /** Runs a command inside the namespace to completion and returns its stdout. */
  exec(argv: readonly string[]): string;
  /** Resolves once something listens on TCP `port` inside the namespace. */
  waitForPort(port: number, timeoutMs?: number, abort?: () => string | undefined): Promise<void>;
}

export interface NetnsOptions {
  /** MTU of lo (default 1500). */
  mtu?: number;
  /** `tc qdisc add dev lo root tbf <tbf>`; `null` for none (default `rate 200kbit burst 1600 latency 500ms`: the 2nd segment of a hello comes ~7 ms after the 1st). */
  tbf?: string | null;
}

function which(cmd: string): boolean {
  return (process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .concat(["/usr/sbin", "/sbin"])
    .some((d) => d !== "" && fs.existsSync(`${d}/${cmd}`));
}

/** Why {@link startNetns} cannot work here (not root, a tool missing), or `undefined` if it can. */
export function netnsUnavailable(extra: readonly string[] = []): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "needs root (unshare -n, ip, tc)";
  const pkg: Record<string, string> = {
    unshare: "util-linux",
    nsenter: "util-linux",
    ip: "iproute2",
    tc: "iproute2",
    ss: "iproute2",
    tshark: "tshark",
  };
  const missing = ["unshare", "nsenter", "ip", "tc", "ss", ...extra].filter((c) => !which(c));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((c) => pkg[c] ?? c))].join(" ");
    return `missing ${missing.join(", ")} (Debian: apt-get install ${pkgs})`;
  }
  return undefined;
}

/** Starts a namespace with lo set up as in the module doc; torn down by the workspace cleanup. */
export async function startNetns(ws: Workspace, opts: NetnsOptions = {}): Promise<Netns> {
  const mtu = opts.mtu ?? 1500;
  const tbf = opts.tbf === undefined ? "rate 200kbit burst 1600 latency 500ms" : opts.tbf;
  const setup = [
    `ip link set lo mtu ${mtu} up`,
    `ip link set dev lo gso_max_segs 1 gso_max_size ${mtu}`,
    ...(tbf === null ? [] : [`tc qdisc add dev lo root tbf ${tbf}`]),
    "echo netns-ready",
    "exec sleep 3600",
  ].join(" && ");
  const holder = spawnProc(ws, "netns", ["unshare", "-n", "--", "sh", "-c", setup]);
  await holder.waitForLine(/^netns-ready$/, 5000);
  const pid = holder.pid;
  const wrap = (argv: readonly string[]) => ["nsenter", "-t", String(pid), "-n", "--", ...argv];
  const exec = (argv: readonly string[]) =>
    execFileSync(wrap(argv)[0] as string, wrap(argv).slice(1), { encoding: "utf8", timeout: 5000 });
  return {
    pid,
    wrap,
    spawn: (w, label, argv, o) => spawnProc(w, label, wrap(argv), o),
    exec,
    waitForPort: async (port, timeoutMs = 15_000, abort) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const reason = abort?.();
        if (reason !== undefined) throw new Error(`Gave up waiting for port ${port} in netns: ${reason}`);
        if (exec(["ss", "-Hltn", `sport = :${port}`]).trim() !== "") return;
        if (Date.now() > deadline) throw new Error(`Timed out waiting for port ${port} in netns`);
        await sleep(50);
      }
    },
  };
}

/**
 * Starts alpnmux ({@link routerCommand}, so `ALPNMUX_CMD` applies) inside `ns` with `args`,
 * and waits until `port` listens there. The result works with the e2e-kit log helpers.
 */
export async function spawnRouterIn(
  ns: Netns,
  ws: Workspace,
  args: readonly string[],
  port: number,
  label = "alpnmux",
): Promise<Router> {
  const argv = [...routerCommand(), ...args];
  const proc = ns.spawn(ws, label, argv);
  const logs = () =>
    [...proc.stdoutLines, ...proc.stderrLines].map(parseJson).filter((l): l is LogLine => l !== undefined);
  await ns.waitForPort(port, 20_000, () => {
    const s = proc.exitStatus();
    return s === undefined
      ? undefined
      : `router exited (code=${s.code}); log: ${proc.logPath}\n${proc.output()}`;
  });
  return {
    proc,
    argv,
    ports: [port],
    logs,
    waitForLog: async (pred, timeoutMs = 10_000) =>
      parseJson(
        await proc.waitForLine((l) => {
          const j = parseJson(l);
          return j !== undefined && pred(j);
        }, timeoutMs),
      ) as LogLine,
    stop: async () => {
      await proc.stop();
    },
  };
}

/** `node_modules/.bin/bun` of this checkout. */
export const bunBin: string = `${repoRoot}/node_modules/.bin/bun`;

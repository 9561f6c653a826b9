/**
 * @module e2e-kit — small helpers shared by the router e2e files (routing, splice, proxy,
 * fragmented, faults, binary): start the router with the usual flags (plus an optional YAML
 * config), read its per-connection log lines, load golden hellos, re-frame a hello into several
 * TLS records, and a raw TCP client that exposes its socket.
 *
 * @example
 * const r = await startRouter(ws, { acme: acmePort, def: bePort, config: { onNoSni: 'route' } })
 * const line = await connLog(r, (l) => l.outcome === 'spliced')
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { ConnectionRecord } from "../../packages/core/src/engine-types.ts";
import { freePort } from "./ports.ts";
import { repoRoot, type Workspace } from "./proc.ts";
import { type LogLine, type Router, spawnRouter } from "./router.ts";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The properties of one `alpnmux.connection` log line: the core's connection record. */
export type ConnLog = ConnectionRecord;

function asConn(l: LogLine): ConnLog | undefined {
  if (l["logger"] !== "alpnmux.connection") return undefined;
  const p = l["properties"];
  return p && typeof p === "object" && "outcome" in p ? (p as ConnLog) : undefined;
}

/** Every connection line logged so far. */
export function connLogs(r: Router): ConnLog[] {
  return r.logs().flatMap((l) => asConn(l) ?? []);
}

/** The first connection line (past or future) that satisfies `pred`. */
export async function connLog(
  r: Router,
  pred: (c: ConnLog) => boolean = () => true,
  timeoutMs = 5000,
): Promise<ConnLog> {
  const l = await r.waitForLog((x) => {
    const c = asConn(x);
    return c !== undefined && pred(c);
  }, timeoutMs);
  return asConn(l) as ConnLog;
}

export interface StartRouterOptions {
  /** `--acme 127.0.0.1:<port>` */
  acme?: number;
  /** `--default 127.0.0.1:<port>` */
  def?: number;
  defaultProxy?: "none" | "v1" | "v2";
  /** `--hello-timeout` (default 2s). */
  helloTimeout?: string;
  /** A config document written to `<ws>/<label>.yaml` (JSON is YAML) and passed as `--config`. */
  config?: Record<string, unknown>;
  label?: string;
  /** Listen port (default: a free one). */
  port?: number;
}

/** Spawns alpnmux on a free loopback port with JSON debug logs. */
export async function startRouter(
  ws: Workspace,
  o: StartRouterOptions,
): Promise<Router & { port: number; addr: string }> {
  const port = o.port ?? (await freePort());
  const label = o.label ?? "alpnmux";
  const args = ["--listen", `127.0.0.1:${port}`];
  if (o.acme !== undefined) args.push("--acme", `127.0.0.1:${o.acme}`);
  if (o.def !== undefined) args.push("--default", `127.0.0.1:${o.def}`);
  if (o.defaultProxy !== undefined) args.push("--default-proxy", o.defaultProxy);
  args.push("--hello-timeout", o.helloTimeout ?? "2s", "--log-format", "json", "--log-level", "debug");
  if (o.config !== undefined) {
    const file = path.join(ws.dir, `${label}.yaml`);
    fs.writeFileSync(file, JSON.stringify(o.config, null, 2));
    args.push("--config", file);
  }
  const r = await spawnRouter(ws, args, { label });
  return Object.assign(r, { port, addr: `127.0.0.1:${port}` });
}

/** A golden hello from `packages/core/src/_testdata/hellos/<name>.bin`. */
export function hello(name: string): Buffer {
  return fs.readFileSync(
    path.join(repoRoot, "packages", "core", "src", "_testdata", "hellos", `${name}.bin`),
  );
}

/**
 * Re-frames a one-record hello into records carrying `sizes` bytes of the handshake message
 * each (the last record takes the rest). Record headers keep the original legacy version.
 */
export function reframe(record: Buffer, sizes: readonly number[]): Buffer {
  if (record[0] !== 0x16 || record.length !== 5 + record.readUInt16BE(3)) {
    throw new TypeError("reframe: expects exactly one handshake record");
  }
  const msg = record.subarray(5);
  const version = record.subarray(1, 3);
  const out: Buffer[] = [];
  let off = 0;
  for (const s of [...sizes, msg.length]) {
    const body = msg.subarray(off, Math.min(msg.length, off + s));
    if (body.length === 0) break;
    const h = Buffer.from([0x16, version[0] ?? 3, version[1] ?? 1, 0, 0]);
    h.writeUInt16BE(body.length, 3);
    out.push(h, body);
    off += body.length;
  }
  return Buffer.concat(out);
}

/** A connected raw TCP client with everything it received and how it ended. */
export interface RawClient {
  readonly socket: net.Socket;
  readonly localPort: number;
  /** All bytes received so far. */
  received(): Buffer;
  /** Resolves when the peer ends or the socket closes (with ms since connect). */
  readonly closed: Promise<{ how: "end" | "close" | "error"; afterMs: number }>;
  /** Resolves once `n` bytes have arrived. */
  waitBytes(n: number, timeoutMs?: number): Promise<Buffer>;
}

/** Connects with `allowHalfOpen` and no Nagle delay. */
export function rawClient(port: number, host = "127.0.0.1"): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let size = 0;
    const waiters = new Set<() => void>();
    let started = 0;
    let done: (v: { how: "end" | "close" | "error"; afterMs: number }) => void = () => {};
    const closed = new Promise<{ how: "end" | "close" | "error"; afterMs: number }>((r) => {
      done = r;
    });
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      for (const w of [...waiters]) w();
    });
    socket.on("end", () => done({ how: "end", afterMs: Date.now() - started }));
    socket.on("close", () => done({ how: "close", afterMs: Date.now() - started }));
    socket.on("error", () => done({ how: "error", afterMs: Date.now() - started }));
    socket.once("error", (e) => reject(e));
    socket.once("connect", () => {
      started = Date.now();
      resolve({
        socket,
        localPort: socket.localPort ?? 0,
        received: () => Buffer.concat(chunks),
        closed,
        waitBytes: (n, timeoutMs = 5000) =>
          new Promise((res, rej) => {
            const check = () => {
              if (size < n) return;
              waiters.delete(check);
              clearTimeout(t);
              res(Buffer.concat(chunks));
            };
            const t = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`raw client: ${size}/${n} bytes after ${timeoutMs} ms`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      });
    });
  });
}

/**
 * @module redis — a throwaway `redis-server` (no persistence, 127.0.0.1 only): plain TCP, or
 * TLS only (`--port 0 --tls-port N`, no client certificates) with a certificate from a test CA.
 * Debian's redis-server 7 is built with TLS.
 *
 * @example
 * const ca = createCA(ws.subdir('redis-pki'))
 * const server = await startRedisServer(ws, { label: 'redis-tls', tls: issueCert(ca, ['localhost', '127.0.0.1']) })
 * server.cli('PING') // "PONG", through redis-cli --tls --cacert
 */
import { execFileSync } from "node:child_process";
import type { LeafCert } from "./certs.ts";
import { freePort, waitForPort } from "./ports.ts";
import { type Proc, spawnProc, type Workspace } from "./proc.ts";

export interface RedisServerOptions {
  /** Log label (default `redis-server`). */
  label?: string;
  /** Port (default: a free one); with `tls`, the TLS port and the only one. */
  port?: number;
  /** Serve TLS only, with this certificate (and its CA for `redis-cli`). */
  tls?: LeafCert;
}

export interface RedisServer {
  readonly port: number;
  readonly proc: Proc;
  /** `redis-cli` against it (with `--tls --cacert` for a TLS server); stdout, trimmed. */
  cli(...args: string[]): string;
}

/** The `redis-server` argv for `port` (plain) or TLS only with `tls`. */
export function redisServerArgv(port: number, tls?: LeafCert): string[] {
  const argv = ["redis-server", "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"];
  if (tls === undefined) return [...argv, "--port", String(port)];
  return [
    ...argv,
    "--port",
    "0",
    "--tls-port",
    String(port),
    "--tls-cert-file",
    tls.certPath,
    "--tls-key-file",
    tls.keyPath,
    "--tls-ca-cert-file",
    tls.ca.certPath,
    "--tls-auth-clients",
    "no",
  ];
}

/** Starts redis-server and waits until its port accepts connections. */
export async function startRedisServer(ws: Workspace, o: RedisServerOptions = {}): Promise<RedisServer> {
  const port = o.port ?? (await freePort());
  const proc = spawnProc(ws, o.label ?? "redis-server", redisServerArgv(port, o.tls));
  await waitForPort(port, {
    timeoutMs: 10_000,
    abort: () => (proc.exitStatus() ? `redis-server exited: ${proc.output().slice(-1000)}` : undefined),
  });
  const tlsArgs = o.tls ? ["--tls", "--cacert", o.tls.ca.certPath] : [];
  return {
    port,
    proc,
    cli: (...args) =>
      execFileSync("redis-cli", [...tlsArgs, "-h", "127.0.0.1", "-p", String(port), ...args], {
        encoding: "utf8",
      }).trim(),
  };
}

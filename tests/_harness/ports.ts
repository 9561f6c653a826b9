/**
 * @module ports — free loopback TCP ports for end-to-end tests.
 *
 * Ports are found by binding `127.0.0.1:0` and closing again, so another process can still
 * take one before the test binds it; within this process a port is never handed out twice.
 *
 * @example
 * const [a, b] = await freePorts(2)
 */
import net from "node:net";

const handedOut = new Set<number>();

function bindEphemeral(host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen({ host, port: 0, exclusive: true }, () => resolve(srv));
  });
}

/**
 * Returns `n` distinct free TCP ports on `host` (default `127.0.0.1`).
 * All `n` sockets are held open together, so the ports differ from each other.
 */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < n) {
      const srv = await bindEphemeral(host);
      servers.push(srv);
      const addr = srv.address();
      if (addr === null || typeof addr === "string") throw new Error("Cannot read bound port");
      if (handedOut.has(addr.port)) continue;
      handedOut.add(addr.port);
      ports.push(addr.port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  return ports;
}

/** Returns one free TCP port on `host` (default `127.0.0.1`). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [p] = await freePorts(1, host);
  if (p === undefined) throw new Error("Cannot allocate a port");
  return p;
}

/**
 * Resolves once `host:port` accepts a TCP connection; rejects after `timeoutMs`
 * (default 10 s) or as soon as `abort()` returns a reason (e.g. "process exited").
 */
export async function waitForPort(
  port: number,
  opts: { host?: string; timeoutMs?: number; abort?: () => string | undefined } = {},
): Promise<void> {
  const host = opts.host ?? "127.0.0.1";
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const reason = opts.abort?.();
    if (reason !== undefined) throw new Error(`Gave up waiting for ${host}:${port}: ${reason}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${host}:${port} to accept connections`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

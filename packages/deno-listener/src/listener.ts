/**
 * The Deno adapter: `Deno.listen` on every planned address, `Deno.connect` to upstreams, and
 * one read/write loop per direction (`conn.read`/`write`, `closeWrite()` for half-close;
 * `readable.pipeTo` would break half-close, FACTS.md). Awaiting each write before the next
 * read is the backpressure. All decisions come from the core session.
 *
 * @module listener
 */

import {
  type Action,
  formatHostPort,
  ListenError,
  planListeners,
  routerFor,
  type ServeOptions,
  type Server,
  type Session,
} from "@alpnmux/core";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["alpnmux", "listener"]);

/**
 * Read buffer per direction. 256 KiB splices a little faster on Deno (FACTS.md), but it is held
 * for the connection's lifetime: 64 KiB keeps an idle spliced connection at 128 KiB.
 */
const READ_BUFFER = 64 * 1024;

interface Stats {
  bytesUp: number;
  bytesDown: number;
  end: string | undefined;
}

/** Writes all of `bytes` (Deno's `write` may accept fewer). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function closeQuietly(conn: Deno.Conn | null): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

/**
 * Starts listening on every address of `config.listen`.
 *
 * @param options Config and optional router/responder.
 * @returns The running server.
 * @throws {ListenError} When an address cannot be bound.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { serve } from "@alpnmux/deno-listener";
 * const server = serve({ config: parseConfig({ listen: ["127.0.0.1:8443"], default: { upstream: "127.0.0.1:9443" } }) });
 * await server.stop();
 * ```
 */
export function serve(options: ServeOptions): Server {
  const router = routerFor(options);
  const open = new Map<Deno.Conn, { session: Session; upstream: Deno.Conn | null }>();
  let stopping = false;

  async function handle(conn: Deno.Conn): Promise<void> {
    const r = router.accept({
      client: { address: conn.remoteAddr.hostname, port: conn.remoteAddr.port },
      local: { address: conn.localAddr.hostname, port: conn.localAddr.port },
    });
    if (!r.ok) return closeQuietly(conn);
    const session = r.session;
    const entry = { session, upstream: null as Deno.Conn | null };
    open.set(conn, entry);
    const stats: Stats = { bytesUp: 0, bytesDown: 0, end: undefined };
    try {
      const action = await readHello(conn, session);
      await act(conn, session, action, stats, entry);
    } catch (e) {
      stats.end ??= `error: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      closeQuietly(conn);
      closeQuietly(entry.upstream);
      open.delete(conn);
      session.onClose({
        bytesUp: stats.bytesUp,
        bytesDown: stats.bytesDown,
        ...(stats.end ? { end: stats.end } : {}),
      });
    }
  }

  /** Reads until the session decides, or the hello timer closes the socket. */
  async function readHello(conn: Deno.Conn, session: Session): Promise<Action> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, session.helloTimeoutMs);
    const buf = new Uint8Array(16 * 1024);
    try {
      while (true) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch (e) {
          if (timedOut) return session.onTimeout();
          if (stopping) {
            session.setOutcome("shutdown");
            return { type: "close", reason: "shutdown" };
          }
          throw e;
        }
        if (timedOut) return session.onTimeout();
        if (n === null) return session.onEnd();
        const a = session.onData(buf.subarray(0, n));
        if (a.type !== "wait") return a;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async function act(
    conn: Deno.Conn,
    session: Session,
    action: Action,
    stats: Stats,
    entry: { upstream: Deno.Conn | null },
  ): Promise<void> {
    switch (action.type) {
      case "wait":
        return;
      case "close":
        stats.end ??= action.reason;
        return;
      case "respond": {
        const next = await respond(conn, session, action, stats);
        if (next) await act(conn, session, next, stats, entry);
        return;
      }
      case "dial": {
        // Keep one read pending on the client while the upstream connects, so a client that
        // resets is noticed at once; data or a FIN it sends meanwhile waits in that read.
        const reader = connReader(conn);
        const gone = reader.prefetch().then(
          () => new Promise<never>(() => {}),
          (e: unknown) => e,
        );
        const connecting = connectWithTimeout(
          action.upstream.host,
          action.upstream.port,
          action.connectTimeoutMs,
        );
        const first = await Promise.race([
          connecting.then(
            (u) => ({ upstream: u }),
            (e: unknown) => ({ error: e }),
          ),
          gone.then((e) => ({ reset: e })),
        ]);
        if ("reset" in first) {
          stats.end ??= "client-reset";
          connecting.then(closeQuietly, () => {});
          return;
        }
        if ("error" in first) {
          session.onUpstreamError(first.error);
          stats.end ??= "upstream-error";
          return;
        }
        const upstream = first.upstream;
        entry.upstream = upstream;
        // Dead peers of a long idle connection are found by TCP keepalive probes.
        for (const c of [conn, upstream]) c.setKeepAlive?.(true);
        await splice(reader, conn, upstream, action.prelude, action.headerLength, stats, session);
        return;
      }
    }
  }

  /** Runs the built-in responder; returns a dial action when it falls back to an upstream. */
  async function respond(
    conn: Deno.Conn,
    session: Session,
    action: Extract<Action, { type: "respond" }>,
    stats: Stats,
  ): Promise<Action | null> {
    const timer = setTimeout(() => {
      session.setOutcome("challenge-failed", "TLS handshake timed out");
      stats.end ??= "handshake-timeout";
      closeQuietly(conn);
    }, session.helloTimeoutMs);
    try {
      let input: Uint8Array | null = action.prelude;
      const buf = new Uint8Array(16 * 1024);
      while (input) {
        stats.bytesUp += input.length;
        const step = await action.responder.receive(input.slice());
        if (step.fallback) {
          stats.bytesUp -= action.prelude.length;
          return step.fallback;
        }
        if (step.write.length) {
          await writeAll(conn, step.write);
          stats.bytesDown += step.write.length;
        }
        if (step.done) {
          stats.end ??= "responder-done";
          return null;
        }
        const n = await conn.read(buf);
        input = n === null ? null : buf.subarray(0, n);
      }
      stats.end ??= "client-closed";
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async function splice(
    clientReader: ConnReader,
    client: Deno.Conn,
    upstream: Deno.Conn,
    prelude: Uint8Array,
    headerLength: number,
    stats: Stats,
    session: Session,
  ): Promise<void> {
    await writeAll(upstream, prelude);
    stats.bytesUp += prelude.length - headerLength;
    let failed = false;
    const pump = async (from: ConnReader, to: Deno.Conn, dir: "up" | "down") => {
      try {
        while (true) {
          const chunk = await from.read();
          if (chunk === null) break;
          await writeAll(to, chunk);
          if (dir === "up") stats.bytesUp += chunk.length;
          else stats.bytesDown += chunk.length;
        }
        // EOF: pass the FIN on (half-close), keep the other direction running.
        await to.closeWrite().catch(() => {});
      } catch (e) {
        if (!failed) {
          failed = true;
          stats.end ??= dir === "up" ? "client-reset" : "upstream-reset";
          if (dir === "down") session.onUpstreamError(e);
          // A reset on one side ends both.
          closeQuietly(client);
          closeQuietly(upstream);
        }
      }
    };
    await Promise.all([pump(clientReader, upstream, "up"), pump(connReader(upstream), client, "down")]);
    stats.end ??= "eof";
  }

  const plan = planListeners(options.config.listen, { ipv6Only: false });
  const listeners: Deno.Listener[] = [];
  const addresses: { host: string; port: number }[] = [];
  try {
    for (const p of plan) {
      const l = Deno.listen({ hostname: p.host, port: p.port });
      listeners.push(l);
      addresses.push({ host: p.host, port: l.addr.port });
      log.info("listening on {address}", {
        address: formatHostPort({ host: p.host, port: l.addr.port }),
      });
    }
  } catch (e) {
    for (const l of listeners) l.close();
    throw ListenError.from(e, plan[listeners.length] ?? { host: "?", port: 0 });
  }

  const accepting = listeners.map(async (l) => {
    try {
      for await (const conn of l) {
        conn.setNoDelay(true);
        handle(conn);
      }
    } catch {
      // The listener was closed by stop().
    }
  });

  return {
    router,
    addresses,
    async stop(drainMs = router.config.drainTimeout) {
      stopping = true;
      for (const l of listeners) {
        try {
          l.close();
        } catch {
          // Already closed.
        }
      }
      await Promise.all(accepting);
      // Connections still in the hello phase (or dialing) are closed now; spliced ones drain.
      for (const [conn, e] of open) if (e.session.phase === "hello") closeQuietly(conn);
      const deadline = Date.now() + drainMs;
      while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const [conn, e] of open) {
        e.session.setOutcome("drain-timeout");
        closeQuietly(conn);
        closeQuietly(e.upstream);
      }
    },
  };
}

/** Reads from a connection into one reusable buffer; a read may be started early (prefetch). */
interface ConnReader {
  /** Starts a read if none is pending; resolves with its byte count (null at EOF). */
  prefetch(): Promise<number | null>;
  /** The next chunk (a view valid until the next call), or null at EOF; takes a prefetched read first. */
  read(): Promise<Uint8Array | null>;
}

function connReader(conn: Deno.Conn): ConnReader {
  const buf = new Uint8Array(READ_BUFFER);
  let pending: Promise<number | null> | null = null;
  return {
    prefetch() {
      pending ??= conn.read(buf);
      return pending;
    },
    async read() {
      const n = await (pending ?? conn.read(buf));
      pending = null;
      return n === null ? null : buf.subarray(0, n);
    },
  };
}

/** `Deno.connect` with a timeout; a connection that completes after it is closed. */
function connectWithTimeout(hostname: string, port: number, ms: number): Promise<Deno.Conn> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`connect to ${hostname}:${port} timed out after ${ms}ms`));
    }, ms);
    Deno.connect({ hostname, port }).then(
      (c) => {
        clearTimeout(timer);
        if (settled) closeQuietly(c);
        else {
          settled = true;
          c.setNoDelay(true);
          resolve(c);
        }
      },
      (e) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          reject(e);
        }
      },
    );
  });
}

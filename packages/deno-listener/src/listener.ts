/**
 * The Deno adapter: `Deno.listen` on every planned address and `Deno.connect` to upstreams,
 * with every socket event passed to the core {@linkcode Engine} and every engine request run on
 * the socket. Deno's sockets are pull-based, so each socket has one read loop (`conn.read` into
 * one buffer, sized by core's `nextReadSize`; `readable.pipeTo` would break half-close,
 * FACTS.md) that stops while the engine has it paused, and each write is a promise whose end is the engine's `drained`. Nothing here
 * decides anything.
 *
 * @module listener
 */

import {
  type Connection,
  type EngineIO,
  engineFor,
  formatHostPort,
  ListenError,
  MIN_READ_BYTES,
  nextReadSize,
  planListeners,
  type ServeOptions,
  type Server,
  type Side,
} from "@alpnmux/core";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["alpnmux", "listener"]);

/** One socket of a connection, as the engine sees it. */
class End {
  conn: Connection<End> | null = null;
  paused = false;
  closed = false;
  wake: (() => void) | null = null;
  constructor(
    readonly side: Side,
    readonly tcp: Deno.Conn,
  ) {}
}

/** Writes the rest of `bytes` after a short write (Deno's `write` may take fewer). */
async function writeRest(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) off += await conn.write(bytes.subarray(off));
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  const io: EngineIO<End> = {
    write(e, bytes) {
      // One write op and one callback per chunk; an async helper only after a short write.
      const failed = (err: unknown) => engine.reset(e.conn as Connection<End>, e.side, err);
      e.tcp.write(bytes).then((n) => {
        if (n >= bytes.length) engine.drained(e.conn as Connection<End>, e.side);
        else
          writeRest(e.tcp, bytes.subarray(n)).then(
            () => engine.drained(e.conn as Connection<End>, e.side),
            failed,
          );
      }, failed);
      return false;
    },
    pause(e) {
      e.paused = true;
    },
    resume(e) {
      e.paused = false;
      e.wake?.();
    },
    shutdown: (e) => void e.tcp.closeWrite().catch(() => {}),
    close(e) {
      // Deno cannot send a TCP reset: a reset is a close.
      e.closed = true;
      e.wake?.();
      try {
        e.tcp.close();
      } catch {
        // Already closed.
      }
    },
    dial(conn, hostname, port) {
      Deno.connect({ hostname, port }).then(
        (tcp) => {
          tcp.setNoDelay(true);
          tcp.setKeepAlive?.(true);
          const e = new End("upstream", tcp);
          e.conn = conn;
          engine.dialed(e.conn, e);
          pump(e);
        },
        (err: unknown) => engine.dialFailed(conn, err),
      );
    },
    timer(ms) {
      clearTimeout(timer);
      timer = setTimeout(() => engine.timeout(), ms);
    },
  };
  const engine = engineFor(options, io);

  /** The read loop of one socket: data, FIN or error to the engine; waits while paused. */
  async function pump(e: End): Promise<void> {
    const c = e.conn as Connection<End>;
    let buf = new Uint8Array(MIN_READ_BYTES);
    while (!e.closed) {
      while (e.paused && !e.closed) await new Promise<void>((r) => (e.wake = r));
      let n: number | null;
      try {
        n = await e.tcp.read(buf);
      } catch (err) {
        engine.reset(c, e.side, err);
        return;
      }
      if (n === null) {
        engine.end(c, e.side);
        return;
      }
      engine.data(c, e.side, buf.subarray(0, n));
      // A new buffer only between reads: a write of the old one may still be in flight.
      const size = nextReadSize(n, buf.length);
      if (size !== buf.length) buf = new Uint8Array(size);
    }
  }

  const plan = planListeners(options.config.listen, { ipv6Only: false });
  const listeners: Deno.Listener[] = [];
  const addresses: { host: string; port: number }[] = [];
  try {
    for (const p of plan) {
      const l = Deno.listen({
        hostname: p.host,
        port: p.port,
        ...(options.reusePort === true ? { reusePort: true } : {}),
      });
      listeners.push(l);
      addresses.push({ host: p.host, port: l.addr.port });
      log.info("listening on {address}", { address: formatHostPort({ host: p.host, port: l.addr.port }) });
    }
  } catch (e) {
    for (const l of listeners) l.close();
    throw ListenError.from(e, plan[listeners.length] ?? { host: "?", port: 0 });
  }

  const accepting = listeners.map(async (l) => {
    try {
      for await (const tcp of l) {
        tcp.setNoDelay(true);
        tcp.setKeepAlive?.(true);
        const e = new End("client", tcp);
        e.conn = engine.open(e, {
          client: { address: tcp.remoteAddr.hostname, port: tcp.remoteAddr.port },
          local: { address: tcp.localAddr.hostname, port: tcp.localAddr.port },
        });
        pump(e);
      }
    } catch {
      // The listener was closed by stop().
    }
  });

  const close = async () => {
    for (const l of listeners) {
      try {
        l.close();
      } catch {
        // Already closed.
      }
    }
    // The socket is released once its pending accept has ended.
    await Promise.all(accepting);
  };
  return {
    router: engine.router,
    addresses,
    close,
    async stop(drainMs) {
      await close();
      await engine.stop(drainMs);
      clearTimeout(timer);
    },
  };
}

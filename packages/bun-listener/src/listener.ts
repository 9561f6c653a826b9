/**
 * The Bun adapter: `Bun.listen` on every planned address and `Bun.connect` to upstreams, with
 * every socket event passed to the core {@linkcode Engine} and every engine request run on the
 * socket. Nothing here decides anything; the one piece of state is what Bun's `write()` did not
 * take (it accepts fewer bytes when the kernel buffer is full and does not queue the rest,
 * FACTS.md), written on `drain` before the engine hears that the socket drained.
 *
 * @module listener
 */

import {
  type Connection,
  type EngineIO,
  engineFor,
  formatHostPort,
  isIpLiteral,
  ListenError,
  planListeners,
  type ServeOptions,
  type Server,
  type Side,
} from "@alpnmux/core";
import { getLogger } from "@logtape/logtape";
import type { Socket, SocketHandler, TCPSocketListener } from "bun";

const log = getLogger(["alpnmux", "listener"]);

/** Wildcard bind addresses: the local address of an accepted socket comes from the socket. */
const UNSPECIFIED = new Set(["0.0.0.0", "::", "0:0:0:0:0:0:0:0"]);

/** One socket of a connection, as the engine sees it. */
class End {
  conn: Connection<End> | null = null;
  socket: Socket<End> | null = null;
  /** Bytes `write` could not hand to the kernel yet. */
  rest: Uint8Array | null = null;
  constructor(readonly side: Side) {}
}

/**
 * Starts listening on every address of `config.listen`.
 *
 * @param options Config and optional router/responder.
 * @returns The running server.
 * @throws {ListenError} When an address cannot be bound (with advice for ports below 1024).
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { serve } from "@alpnmux/bun-listener";
 * const server = serve({ config: parseConfig({ listen: ["127.0.0.1:8443"], default: { upstream: "127.0.0.1:9443" } }) });
 * await server.stop();
 * ```
 */
export function serve(options: ServeOptions): Server {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const io: EngineIO<End> = {
    write(e, bytes) {
      const n = (e.socket as Socket<End>).write(bytes);
      if (n === bytes.length) return true;
      // A view, not a copy: the engine leaves bytes it wrote alone until `drained`, and the
      // chunks Bun's `data` hands over are fresh buffers each time (never reused by Bun).
      e.rest = bytes.subarray(Math.max(0, n));
      return false;
    },
    pause: (e) => e.socket?.pause(),
    resume: (e) => e.socket?.resume(),
    shutdown: (e) => e.socket?.shutdown(),
    close: (e, reset) => (reset ? e.socket?.terminate() : e.socket?.end()),
    dial(conn, hostname, port) {
      const e = new End("upstream");
      e.conn = conn;
      Bun.connect<End>({ hostname, port, allowHalfOpen: true, data: e, socket: upstreamHandlers }).catch(
        (err: unknown) => engine.dialFailed(conn, err),
      );
    },
    timer(ms) {
      clearTimeout(timer);
      timer = setTimeout(() => engine.timeout(), ms);
    },
  };
  const engine = engineFor(options, io);

  const common: Omit<SocketHandler<End>, "open"> = {
    data: (s, chunk) => engine.data(s.data.conn as Connection<End>, s.data.side, chunk),
    drain(s) {
      const e = s.data;
      if (e.rest !== null) {
        const n = s.write(e.rest);
        e.rest = n < e.rest.length ? e.rest.subarray(Math.max(0, n)) : null;
        if (e.rest !== null) return;
      }
      engine.drained(e.conn as Connection<End>, e.side);
    },
    end: (s) => engine.end(s.data.conn as Connection<End>, s.data.side),
    close: (s, err) =>
      err
        ? engine.reset(s.data.conn as Connection<End>, s.data.side, err)
        : engine.closed(s.data.conn as Connection<End>, s.data.side),
    error: (s, err) => engine.reset(s.data.conn as Connection<End>, s.data.side, err),
  };
  const upstreamHandlers: SocketHandler<End> = {
    ...common,
    open(u) {
      // Bun sets TCP_NODELAY on every socket it accepts or connects itself (strace): only
      // keepalive is ours to set.
      u.data.socket = u;
      u.setKeepAlive(true);
      engine.dialed(u.data.conn as Connection<End>, u.data);
    },
    connectError() {
      // Reported through the Bun.connect promise.
    },
  };
  /**
   * The accept handler of one listener. A listener bound to one address knows every accepted
   * socket's local address already; only a wildcard one asks the socket (two getsockname calls:
   * Bun reads `localAddress` and `localPort` separately).
   */
  const clientHandlers = (bound: { address: string; port: number } | null): SocketHandler<End> => ({
    ...common,
    open(s) {
      const e = new End("client");
      e.socket = s;
      s.data = e;
      s.setKeepAlive(true);
      e.conn = engine.open(e, {
        client: { address: s.remoteAddress, port: s.remotePort },
        local: bound ?? { address: s.localAddress, port: s.localPort },
      });
    },
  });

  const plan = planListeners(options.config.listen);
  const listeners: TCPSocketListener<End>[] = [];
  const addresses: { host: string; port: number }[] = [];
  try {
    for (const p of plan) {
      // The port is filled in once bound (port 0 asks the OS for one), before any accept.
      const bound =
        isIpLiteral(p.host) && !UNSPECIFIED.has(p.host) ? { address: p.host, port: p.port } : null;
      // `ipv6Only` and `reusePort` work on Bun.listen at run time but are not typed for it.
      const opts: Bun.TCPSocketListenOptions<End> & { ipv6Only: boolean; reusePort: boolean } = {
        hostname: p.host,
        port: p.port,
        ipv6Only: p.ipv6Only,
        reusePort: options.reusePort === true,
        allowHalfOpen: true,
        socket: clientHandlers(bound),
      };
      const l = Bun.listen<End>(opts);
      if (bound) bound.port = l.port;
      listeners.push(l);
      addresses.push({ host: p.host, port: l.port });
      log.info("listening on {address}", { address: formatHostPort({ host: p.host, port: l.port }) });
    }
  } catch (e) {
    for (const l of listeners) l.stop(true);
    throw ListenError.from(e, plan[listeners.length] ?? { host: "?", port: 0 });
  }

  const close = async () => {
    for (const l of listeners) l.stop(false);
  };
  return {
    router: engine.router,
    addresses,
    close,
    async stop(drainMs) {
      await close();
      await engine.stop(drainMs);
      for (const l of listeners) l.stop(true);
      clearTimeout(timer);
    },
  };
}

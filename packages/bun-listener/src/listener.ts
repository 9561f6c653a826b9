/**
 * The Bun adapter: `Bun.listen` on every planned address, `Bun.connect` to upstreams, bytes
 * spliced both ways with backpressure and half-close. All decisions come from the core
 * session; this file only does I/O.
 *
 * @module listener
 */

import {
  type Action,
  formatHostPort,
  ListenError,
  planListeners,
  type ResponderConnection,
  routerFor,
  type ServeOptions,
  type Server,
  type Session,
} from "@alpnmux/core";
import { getLogger } from "@logtape/logtape";
import type { Socket, TCPSocketListener } from "bun";
import { WriteQueue } from "./splice.ts";

const log = getLogger(["alpnmux", "listener"]);

interface Conn {
  session: Session;
  client: Socket<Conn>;
  upstream: Socket<Conn> | null;
  state: "hello" | "dialing" | "splice" | "respond" | "closed";
  /** Bytes to the client. */
  down: WriteQueue;
  /** Bytes to the upstream (created on connect). */
  up: WriteQueue | null;
  pendingUp: Uint8Array[];
  clientEof: boolean;
  upstreamEof: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  end: string | undefined;
  responder: ResponderConnection | null;
  chain: Promise<void>;
  /** PROXY header bytes at the start of what was written upstream. */
  headerLength: number;
  /** Client bytes fed to the built-in responder. */
  responderIn: number;
  /** Close as soon as everything queued for the client is written (responder finished). */
  closeWhenFlushed: boolean;
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
  const router = routerFor(options);
  const conns = new Set<Conn>();
  const listeners: TCPSocketListener<Conn>[] = [];

  function finish(c: Conn): void {
    if (c.state === "closed") return;
    c.state = "closed";
    clearTimeout(c.timer);
    conns.delete(c);
    c.session.onClose({
      bytesUp: Math.max(0, (c.up?.written ?? 0) - c.headerLength) + c.responderIn,
      bytesDown: c.down.written,
      ...(c.end ? { end: c.end } : {}),
    });
  }

  function closeAll(c: Conn, reset: boolean): void {
    if (reset) {
      c.client.terminate();
      c.upstream?.terminate();
    } else {
      c.client.end();
      c.upstream?.end();
    }
    finish(c);
  }

  function run(c: Conn, a: Action): void {
    switch (a.type) {
      case "wait":
        return;
      case "close":
        c.end ??= a.reason;
        closeAll(c, false);
        return;
      case "dial":
        clearTimeout(c.timer);
        dial(c, a);
        return;
      case "respond":
        clearTimeout(c.timer);
        // The challenge handshake gets the hello timeout too: a stalled validator is closed.
        c.timer = setTimeout(() => {
          c.session.setOutcome("challenge-failed", "TLS handshake timed out");
          c.end ??= "handshake-timeout";
          closeAll(c, true);
        }, c.session.helloTimeoutMs);
        c.state = "respond";
        c.responder = a.responder;
        feedResponder(c, a.prelude);
        return;
    }
  }

  function feedResponder(c: Conn, bytes: Uint8Array): void {
    const responder = c.responder;
    if (!responder) return;
    const copy = bytes.slice();
    c.responderIn += copy.length;
    c.chain = c.chain.then(async () => {
      if (c.state !== "respond") return;
      const step = await responder.receive(copy);
      if (c.state !== "respond") return;
      c.down.write(step.write);
      if (step.fallback) {
        clearTimeout(c.timer);
        c.responder = null;
        c.responderIn = 0; // the prelude is counted again as written upstream
        dial(c, step.fallback);
      } else if (step.done) {
        c.end ??= "responder-done";
        c.closeWhenFlushed = true;
        maybeDone(c);
      }
    });
    c.chain.catch((e) => {
      c.session.setOutcome("challenge-failed", String(e));
      closeAll(c, true);
    });
  }

  function dial(c: Conn, a: Extract<Action, { type: "dial" }>): void {
    c.state = "dialing";
    c.client.pause();
    c.pendingUp.unshift(a.prelude);
    c.headerLength = a.headerLength;
    let settled = false;
    const timeout = setTimeout(() => {
      if (settled) return;
      settled = true;
      run(
        c,
        c.session.onUpstreamError(
          new Error(
            `connect to ${a.upstream.host}:${a.upstream.port} timed out after ${a.connectTimeoutMs}ms`,
          ),
        ),
      );
    }, a.connectTimeoutMs);
    Bun.connect<Conn>({
      hostname: a.upstream.host,
      port: a.upstream.port,
      allowHalfOpen: true,
      data: c,
      socket: upstreamHandlers,
    }).then(
      (u) => {
        clearTimeout(timeout);
        if (settled || c.state === "closed") {
          u.terminate();
          return;
        }
        settled = true;
        c.upstream = u;
        c.up = new WriteQueue(u, c.client);
        c.down.source = u;
        c.state = "splice";
        // Small TLS flights go out at once (as HAProxy and nginx do), and dead peers of a long
        // idle connection are found by keepalive probes after a minute.
        for (const sock of [c.client, u]) {
          sock.setNoDelay(true);
          sock.setKeepAlive(true, 60_000);
        }
        for (const p of c.pendingUp) c.up.write(p);
        c.pendingUp = [];
        if (c.clientEof) c.up.shutdownWhenFlushed();
        // Stay paused if the first write already backed up: the upstream's drain resumes us.
        if (c.up.pending === 0) c.client.resume();
      },
      (err) => {
        clearTimeout(timeout);
        if (settled) return;
        settled = true;
        run(c, c.session.onUpstreamError(err));
      },
    );
  }

  function maybeDone(c: Conn): void {
    if (c.closeWhenFlushed && c.down.pending === 0) {
      closeAll(c, false);
      return;
    }
    if (c.clientEof && c.upstreamEof && c.down.pending === 0 && (c.up?.pending ?? 0) === 0) {
      c.end ??= "eof";
      closeAll(c, false);
    }
  }

  const upstreamHandlers = {
    data(u: Socket<Conn>, chunk: Uint8Array) {
      const c = u.data;
      if (c.state !== "splice") return;
      c.down.write(chunk);
    },
    drain(u: Socket<Conn>) {
      u.data.up?.flush();
      maybeDone(u.data);
    },
    end(u: Socket<Conn>) {
      const c = u.data;
      c.upstreamEof = true;
      c.down.shutdownWhenFlushed();
      maybeDone(c);
    },
    close(u: Socket<Conn>, err?: Error) {
      const c = u.data;
      if (c.state === "closed" || c.upstream !== u) return;
      if (err) {
        c.end ??= "upstream-reset";
        closeAll(c, true);
      } else {
        c.upstreamEof = true;
        c.down.shutdownWhenFlushed();
        c.end ??= "upstream-closed";
        // The upstream is fully gone: nothing more can be delivered to it.
        if (c.down.pending === 0) closeAll(c, false);
      }
    },
    error(u: Socket<Conn>, err: Error) {
      const c = u.data;
      if (c.upstream === u) {
        c.session.onUpstreamError(err);
        c.end ??= "upstream-error";
      }
    },
    connectError() {
      // Reported through the Bun.connect promise.
    },
  };

  const clientHandlers = {
    open(s: Socket<Conn>) {
      const r = router.accept({
        client: { address: s.remoteAddress, port: s.remotePort },
        local: { address: s.localAddress, port: s.localPort },
      });
      if (!r.ok) {
        s.terminate();
        return;
      }
      const c: Conn = {
        session: r.session,
        client: s,
        upstream: null,
        state: "hello",
        down: new WriteQueue(s, null),
        up: null,
        pendingUp: [],
        clientEof: false,
        upstreamEof: false,
        timer: undefined,
        end: undefined,
        responder: null,
        chain: Promise.resolve(),
        headerLength: 0,
        responderIn: 0,
        closeWhenFlushed: false,
      };
      s.data = c;
      conns.add(c);
      c.timer = setTimeout(() => run(c, c.session.onTimeout()), r.session.helloTimeoutMs);
    },
    data(s: Socket<Conn>, chunk: Uint8Array) {
      const c = s.data;
      if (!c) return;
      switch (c.state) {
        case "hello":
          run(c, c.session.onData(chunk));
          return;
        case "dialing":
          c.pendingUp.push(chunk.slice());
          return;
        case "splice":
          c.up?.write(chunk);
          return;
        case "respond":
          feedResponder(c, chunk);
          return;
        case "closed":
          return;
      }
    },
    drain(s: Socket<Conn>) {
      const c = s.data;
      if (!c) return;
      c.down.flush();
      maybeDone(c);
    },
    end(s: Socket<Conn>) {
      const c = s.data;
      if (!c) return;
      c.clientEof = true;
      if (c.state === "hello") return run(c, c.session.onEnd());
      if (c.state === "splice") c.up?.shutdownWhenFlushed();
      maybeDone(c);
    },
    close(s: Socket<Conn>, err?: Error) {
      const c = s.data;
      if (!c || c.state === "closed") return;
      if (c.state === "hello") c.session.onEnd();
      c.end ??= err ? "client-reset" : "client-closed";
      if (err) c.upstream?.terminate();
      else c.upstream?.end();
      finish(c);
    },
    error(s: Socket<Conn>, err: Error) {
      const c = s.data;
      if (c) c.end ??= `client-error: ${err.message}`;
    },
  };

  const plan = planListeners(options.config.listen);
  const addresses: { host: string; port: number }[] = [];
  try {
    for (const p of plan) {
      // `ipv6Only` works on Bun.listen at run time but is typed only for connect.
      const opts: Bun.TCPSocketListenOptions<Conn> & { ipv6Only: boolean } = {
        hostname: p.host,
        port: p.port,
        ipv6Only: p.ipv6Only,
        allowHalfOpen: true,
        socket: clientHandlers,
      };
      const l = Bun.listen<Conn>(opts);
      listeners.push(l);
      addresses.push({ host: p.host, port: l.port });
      log.info("listening on {address}", {
        address: formatHostPort({ host: p.host, port: l.port }),
      });
    }
  } catch (e) {
    for (const l of listeners) l.stop(true);
    throw ListenError.from(e, plan[listeners.length] ?? { host: "?", port: 0 });
  }

  return {
    router,
    addresses,
    async stop(drainMs = router.config.drainTimeout) {
      for (const l of listeners) l.stop(false);
      for (const c of conns)
        if (c.state === "hello" || c.state === "dialing") {
          c.session.setOutcome("shutdown");
          run(c, { type: "close", reason: "shutdown" });
        }
      const deadline = Date.now() + drainMs;
      while (conns.size > 0 && Date.now() < deadline) await Bun.sleep(20);
      for (const c of conns) {
        c.end ??= "drain-timeout";
        closeAll(c, true);
      }
      for (const l of listeners) l.stop(true);
    },
  };
}

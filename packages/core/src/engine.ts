/**
 * The connection engine: the whole lifecycle of every connection (hello, decision, challenge
 * lookup, dial, splice with backpressure and half-close, built-in responder, drain, close,
 * accounting) as one sans-I/O state machine. It never touches a socket or a clock of its own:
 * an adapter feeds it socket events (`open`, `data`, `end`, `reset`, `closed`, `drained`,
 * `dialed`, `dialFailed`, `timeout`) and performs the {@linkcode EngineIO} calls it makes.
 * Both runtime listeners are such adapters, so both behave the same by construction.
 *
 * Rules it applies (so no adapter has to):
 * - Backpressure: a write that returns `false` pauses the socket feeding it until the target
 *   drains; bytes held while dialing or while the responder works are capped at 64 KiB, then
 *   the client is paused.
 * - Half-close: a FIN is passed on once everything before it was written; the connection ends
 *   when both directions are finished (`eof`), or at the first reset, which is passed on.
 * - One deadline per connection (hello, connect, or challenge handshake), all on one timer.
 * - An upstream that refuses, times out or resets is an upstream fault (`upstream-error`,
 *   `alpnmux_upstream_errors_total`); a client that resets is not.
 * - The challenge lookup happens before the responder starts, so the responder only sees
 *   connections it answers; a hello without SNI or without TLS 1.3 gets its alert with no lookup.
 *
 * @module engine
 */

import { getLogger } from "@logtape/logtape";
import { formatHostPort } from "./address.ts";
import { concat } from "./bytes.ts";
import type { ClientHello } from "./clienthello-types.ts";
import { Connection, type DeadlineKind, type Flow } from "./connection.ts";
import { recordOf } from "./connection-record.ts";
import { ProtocolVersion } from "./constants.ts";
import { DeadlineQueue } from "./deadlines.ts";
import type { ConnectionInfo, EndReason, EngineIO, Outcome, Side } from "./engine-types.ts";
import { flush, forward, hold, resumeFrom, writeToClient } from "./flow.ts";
import type { Decision } from "./policy.ts";
import { proxyHeaderFor } from "./proxy-header.ts";
import type { Router } from "./router.ts";
import { createSniffer } from "./sniff.ts";
import type { ResponderOutcome, ResponderOutput } from "./tls13/responder.ts";

/** TLS alert descriptions the engine sends itself (RFC 8446, Section 6). */
const Alert = { internalError: 80, protocolVersion: 70, unrecognizedName: 112 } as const;

const log = getLogger(["alpnmux", "engine"]);

/**
 * Runs every connection of one listener group.
 *
 * @typeParam S The adapter's socket handle.
 * @example A test adapter that records what the engine asks for
 * ```ts
 * import { Engine, type EngineIO, createRouter, parseConfig } from "@alpnmux/core";
 * const calls: string[] = [];
 * const io: EngineIO<string> = {
 *   write: (s, b) => (calls.push(`write ${s} ${b.length}`), true),
 *   pause: (s) => calls.push(`pause ${s}`),
 *   resume: (s) => calls.push(`resume ${s}`),
 *   shutdown: (s) => calls.push(`shutdown ${s}`),
 *   close: (s, reset) => calls.push(`close ${s} ${reset}`),
 *   dial: (_c, host, port) => calls.push(`dial ${host}:${port}`),
 *   timer: () => {},
 * };
 * const router = createRouter({ config: parseConfig({ default: { upstream: "127.0.0.1:8443" } }) });
 * const engine = new Engine({ router, io });
 * const c = engine.open("client", { client: { address: "192.0.2.1", port: 5000 }, local: { address: "192.0.2.2", port: 443 } });
 * engine.data(c, "client", new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")); // not TLS: closed by default
 * calls; // ["close client false"]
 * ```
 */
export class Engine<S> {
  readonly router: Router;
  readonly #io: EngineIO<S>;
  readonly #deadlines = new DeadlineQueue();
  readonly #conns = new Set<Connection<S>>();
  #timerAt = Number.POSITIVE_INFINITY;
  #drainAt: number | null = null;
  #stopping = false;
  #idle: (() => void) | null = null;

  /** @param options The router (config, limits, metrics, log) and the adapter's I/O. */
  constructor(options: { readonly router: Router; readonly io: EngineIO<S> }) {
    this.router = options.router;
    this.#io = options.io;
  }

  /** Connections not yet closed. */
  get size(): number {
    return this.#conns.size;
  }

  /** Connections not yet closed, for inspection. */
  connections(): IterableIterator<Connection<S>> {
    return this.#conns.values();
  }

  /**
   * A socket was accepted. A connection refused by a limit is closed (reset) at once.
   * @param client The adapter's handle for it.
   * @param info Its addresses.
   * @returns The connection: pass it with every later event of this socket.
   */
  open(client: S, info: ConnectionInfo): Connection<S> {
    const now = this.router.now();
    const admitted = this.router.admit(info);
    const c = new Connection(client, admitted.info, now);
    if (!admitted.ok) {
      c.phase = "closed";
      this.#io.close(client, true);
      return c;
    }
    c.sniffer = createSniffer({
      maxHelloBytes: this.router.maxHelloBytes,
      maxRecords: this.router.maxHelloRecords,
    });
    this.#conns.add(c);
    this.#arm(c, "hello", this.router.helloTimeoutMs, now);
    return c;
  }

  /**
   * Bytes were read from one side. They need stay valid only during the call.
   * @param c The connection.
   * @param side Which socket.
   * @param bytes What was read.
   */
  data(c: Connection<S>, side: Side, bytes: Uint8Array): void {
    try {
      if (side === "upstream") {
        if (c.phase === "splice") forward(this.#io, c, c.down, bytes);
        return;
      }
      switch (c.phase) {
        case "hello":
          this.#helloData(c, bytes);
          return;
        case "lookup":
        case "dialing":
          hold(this.#io, c, c.up, bytes);
          return;
        case "respond":
          hold(this.#io, c, c.up, bytes);
          this.#feed(c);
          return;
        case "splice":
          forward(this.#io, c, c.up, bytes);
          return;
        case "closed":
          return;
      }
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /**
   * One side sent FIN (its reads ended).
   * @param c The connection.
   * @param side Which socket.
   */
  end(c: Connection<S>, side: Side): void {
    try {
      if (side === "upstream") {
        if (c.phase === "splice") this.#eof(c, c.down);
        return;
      }
      switch (c.phase) {
        case "hello":
          this.#leaveHello(c, null, null);
          this.#close(c, "client-closed", "client-closed", false);
          return;
        case "lookup":
        case "respond":
          // A validator may send its Finished and FIN at once: answer what was sent first.
          c.up.eof = true;
          this.#clientDoneSending(c);
          return;
        case "dialing":
        case "splice":
          this.#eof(c, c.up);
          return;
        case "closed":
          return;
      }
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /**
   * One side reset or failed (a read or write error): both sockets are reset.
   * @param c The connection.
   * @param side Which socket.
   * @param error What the runtime reported.
   */
  reset(c: Connection<S>, side: Side, error: unknown): void {
    try {
      if (c.phase === "closed") return;
      if (side === "client") {
        if (c.phase === "hello") {
          this.#leaveHello(c, null, null);
          c.outcome ??= "client-closed";
        }
        if (c.phase === "lookup" || c.phase === "respond") {
          c.error ??= `the client reset during the challenge handshake: ${message(error)}`;
          c.outcome ??= "challenge-failed";
        }
        c.end ??= "client-reset";
      } else {
        if (c.upstream === null) return;
        if (c.down.eof) {
          // The upstream had already sent FIN: a failed write to it afterwards (EPIPE, RST) is
          // how a server that closed looks, not a fault. The client gets what was read.
          c.end ??= "upstream-closed";
          c.closeWhenFlushed = true;
          this.#maybeFinish(c);
          return;
        }
        c.upstreamFault = true;
        c.outcome ??= "upstream-error";
        c.error ??= `upstream reset: ${message(error)}`;
        c.end ??= "upstream-reset";
      }
      this.#finish(c, true);
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /**
   * A socket is fully closed without an error (where the runtime reports that apart from FIN).
   * @param c The connection.
   * @param side Which socket.
   */
  closed(c: Connection<S>, side: Side): void {
    try {
      if (c.phase === "closed") return;
      if (side === "client") {
        if (c.phase === "hello") this.end(c, "client");
        else
          this.#close(
            c,
            c.phase === "lookup" || c.phase === "respond" ? "challenge-failed" : null,
            "client-closed",
            false,
          );
        return;
      }
      if (c.phase !== "splice") return;
      // Nothing more can be delivered upstream: finish once the client has what was read.
      c.end ??= "upstream-closed";
      c.closeWhenFlushed = true;
      this.#eof(c, c.down);
      this.#maybeFinish(c);
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /**
   * A socket that returned `false` from `write` can take more.
   * @param c The connection.
   * @param side Which socket drained.
   */
  drained(c: Connection<S>, side: Side): void {
    try {
      if (c.phase === "closed") return;
      const f = side === "upstream" ? c.up : c.down;
      f.blocked = false;
      if (side === "upstream" && c.phase !== "splice") return;
      this.#flush(c, f);
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /**
   * The upstream connect of `io.dial` succeeded.
   * @param c The connection.
   * @param upstream The adapter's handle for the new socket.
   */
  dialed(c: Connection<S>, upstream: S): void {
    try {
      c.upstream = upstream;
      if (c.phase !== "dialing") {
        this.#io.close(upstream, true);
        return;
      }
      this.#disarm(c);
      c.phase = "splice";
      const d = c.decision;
      const header = d?.action === "forward" ? proxyHeaderFor(d, c.info, c.hello) : null;
      c.hello = null; // its views pin the sniffer's buffer; the record keeps a summary
      if (header !== null) {
        // The header and the client's first bytes in one write (one segment).
        const first = c.up.queue.shift() ?? new Uint8Array(0);
        c.up.queued -= first.length;
        c.bytesUp += first.length;
        c.up.blocked = !this.#io.write(upstream, concat(header, first));
      }
      this.#flush(c, c.up);
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /**
   * The upstream connect of `io.dial` failed.
   * @param c The connection.
   * @param error What the runtime reported.
   */
  dialFailed(c: Connection<S>, error: unknown): void {
    try {
      if (c.phase !== "dialing") return;
      c.upstreamFault = true;
      c.error ??= message(error);
      this.#close(c, "upstream-error", "connect-failed", false);
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /** The timer asked for with `io.timer` fired: expires due deadlines, asks for the next one. */
  timeout(): void {
    const now = this.router.now();
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#deadlines.expire<Connection<S>>(now, (c) => {
      try {
        this.#expired(c);
      } catch (e) {
        this.#crash(c, e);
      }
    });
    if (this.#drainAt !== null && now >= this.#drainAt) {
      this.#drainAt = null;
      for (const c of [...this.#conns]) {
        c.end ??= "drain-timeout";
        this.#finish(c, true);
      }
    }
    this.#schedule(now);
  }

  /**
   * Stops: connections not yet routed (hello, lookup, dialing) are closed (`shutdown`), the
   * rest may finish within `drainMs`, then they are reset (`end: drain-timeout`). The adapter
   * stops accepting first.
   * @param drainMs How long spliced connections may go on; if omitted, the config's `drainTimeout`.
   * @returns Resolves when every connection is closed.
   */
  stop(drainMs: number = this.router.config.drainTimeout): Promise<void> {
    this.#stopping = true;
    for (const c of [...this.#conns]) {
      if (c.phase === "hello") this.#leaveHello(c, null, null);
      if (c.phase === "hello" || c.phase === "lookup" || c.phase === "dialing") {
        this.#close(c, "shutdown", "shutdown", false);
      }
    }
    if (this.#conns.size === 0) return Promise.resolve();
    const now = this.router.now();
    this.#drainAt = now + Math.max(0, drainMs);
    this.#schedule(now);
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  // --- hello and decision -----------------------------------------------------------------

  #helloData(c: Connection<S>, bytes: Uint8Array): void {
    const r = (c.sniffer as NonNullable<typeof c.sniffer>).push(bytes);
    switch (r.kind) {
      case "need-more":
        return;
      case "hello":
        c.hello = r.hello;
        c.sni = r.hello.serverName;
        c.alpn = r.hello.alpn;
        c.ech = r.hello.ech;
        this.#leaveHello(c, r.helloBytes, null);
        this.#route(c, this.router.decide(r.hello), r.prelude);
        return;
      case "not-tls":
        this.#leaveHello(c, null, null);
        this.#route(c, this.router.decideNotTls(), r.prelude);
        return;
      case "invalid":
      case "too-large": {
        c.error = r.error.message;
        this.#leaveHello(c, null, r.error.code);
        const reason = r.kind === "invalid" ? "invalid-hello" : "hello-too-large";
        this.#close(c, reason, reason, false);
        return;
      }
    }
  }

  #leaveHello(c: Connection<S>, helloBytes: number | null, errorCode: string | null): void {
    if (c.sniffer === null) return;
    c.sniffer = null;
    c.helloBytes = helloBytes;
    this.#disarm(c);
    this.router.helloDone(c, helloBytes, errorCode);
  }

  #route(c: Connection<S>, decision: Decision, prelude: Uint8Array): void {
    c.decision = decision;
    // The prelude is the sniffer's own buffer (never reused): held without a copy.
    c.up.queue.push(prelude);
    c.up.queued += prelude.length;
    switch (decision.action) {
      case "reject":
        this.#close(c, decision.reason, decision.reason, false);
        return;
      case "forward":
        this.#dial(c, decision.upstream, decision.connectTimeoutMs ?? this.router.connectTimeoutMs);
        return;
      case "acme-builtin":
        this.#lookup(c, c.hello);
        c.hello = null;
        return;
    }
  }

  #dial(c: Connection<S>, to: { host: string; port: number }, timeoutMs: number): void {
    c.phase = "dialing";
    c.dialTarget = to;
    this.#arm(c, "connect", timeoutMs, this.router.now());
    this.#io.dial(c, to.host, to.port);
  }

  // --- the built-in responder -----------------------------------------------------------

  #lookup(c: Connection<S>, hello: ClientHello | null): void {
    const challenges = this.router.challenges;
    if (hello === null) {
      this.#close(c, "rejected", "rejected", false);
      return;
    }
    if (challenges === undefined) {
      c.error = "no built-in responder configured";
      this.#close(c, "challenge-unavailable", "challenge-unavailable", false);
      return;
    }
    c.phase = "lookup";
    this.#arm(c, "handshake", this.router.helloTimeoutMs, this.router.now());
    const name = hello.serverName;
    if (name === null) {
      this.#alert(c, Alert.unrecognizedName, "challenge-missing", "no SNI");
      return;
    }
    if (!hello.supportedVersions?.includes(ProtocolVersion.tls13)) {
      this.#alert(c, Alert.protocolVersion, "challenge-failed", "the client does not offer TLS 1.3");
      return;
    }
    challenges.lookup(name).then(
      (cert) => {
        if (c.phase !== "lookup") return;
        if (cert !== undefined) {
          c.responder = challenges.respond(cert);
          c.phase = "respond";
          this.#feed(c);
          return;
        }
        this.#noChallenge(c, `no challenge stored for ${JSON.stringify(name)}`, "challenge-missing");
      },
      (e: unknown) => {
        if (c.phase !== "lookup") return;
        this.#noChallenge(c, `challenge lookup failed: ${message(e)}`, "challenge-failed");
      },
    );
  }

  /** No challenge (or the store failed): the route's fallback upstream, or an alert. */
  #noChallenge(c: Connection<S>, why: string, outcome: Outcome): void {
    try {
      const d = c.decision;
      c.error = why;
      if (d?.action === "acme-builtin" && d.fallback !== "reject") {
        c.outcome = "challenge-fallback";
        this.#dial(c, d.fallback, this.router.connectTimeoutMs);
        return;
      }
      this.#alert(
        c,
        outcome === "challenge-missing" ? Alert.unrecognizedName : Alert.internalError,
        outcome,
        why,
      );
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /** Answers with one plaintext alert and closes once it is written. */
  #alert(c: Connection<S>, description: number, outcome: Outcome, why: string): void {
    c.phase = "respond";
    c.outcome ??= outcome;
    c.error ??= why;
    c.bytesUp += c.up.queued;
    c.up.queue = [];
    c.up.queued = 0;
    writeToClient(this.#io, c, Uint8Array.of(21, 3, 3, 0, 2, 2, description));
    c.end ??= "responder-done";
    c.closeWhenFlushed = true;
    this.#maybeFinish(c);
  }

  /** Gives the responder everything held, one `receive()` at a time. */
  #feed(c: Connection<S>): void {
    const responder = c.responder;
    if (responder === null || c.responderBusy || c.up.queued === 0) return;
    const bytes = c.up.queue.length === 1 ? (c.up.queue[0] as Uint8Array) : concat(...c.up.queue);
    c.bytesUp += bytes.length;
    c.up.queue = [];
    c.up.queued = 0;
    resumeFrom(this.#io, c, c.up);
    c.responderBusy = true;
    responder.receive(bytes).then(
      (out) => this.#responded(c, out),
      (e: unknown) => this.#responded(c, { write: new Uint8Array(0), done: true, outcome: internal(e) }),
    );
  }

  #responded(c: Connection<S>, out: ResponderOutput): void {
    try {
      c.responderBusy = false;
      if (c.phase !== "respond") return;
      if (out.outcome) {
        c.outcome ??= out.outcome.type === "completed" ? "challenge-served" : "challenge-failed";
        if (out.outcome.type === "alert-sent")
          c.error ??= `sent alert ${out.outcome.alertName}: ${out.outcome.reason}`;
        if (out.outcome.type === "alert-received") c.error ??= `received alert ${out.outcome.alertName}`;
      }
      if (out.write.length > 0) writeToClient(this.#io, c, out.write);
      if (out.done) {
        c.end ??= "responder-done";
        c.closeWhenFlushed = true;
        this.#maybeFinish(c);
        return;
      }
      this.#feed(c);
      this.#clientDoneSending(c);
    } catch (e) {
      this.#crash(c, e);
    }
  }

  /** The client sent FIN during the handshake and the responder has used every byte: it failed. */
  #clientDoneSending(c: Connection<S>): void {
    if (c.phase !== "respond" || !c.up.eof || c.responderBusy || c.up.queued > 0 || c.closeWhenFlushed)
      return;
    c.error ??= "the client closed during the challenge handshake";
    this.#close(c, "challenge-failed", "client-closed", false);
  }

  /** Writes what is held; once drained, passes on a pending FIN; maybe the connection is done. */
  #flush(c: Connection<S>, f: Flow): void {
    flush(this.#io, c, f);
    this.#maybeFinish(c);
  }

  /** The source of `f` sent FIN: pass it on once everything before it is written. */
  #eof(c: Connection<S>, f: Flow): void {
    f.eof = true;
    if (c.phase === "splice") this.#flush(c, f);
  }

  #maybeFinish(c: Connection<S>): void {
    if (c.phase === "closed") return;
    if (c.closeWhenFlushed) {
      if (!c.down.blocked && c.down.queued === 0) this.#finish(c, false);
      return;
    }
    if (c.up.shut && c.down.shut) {
      c.end ??= "eof";
      this.#finish(c, false);
    }
  }

  // --- deadlines and closing ----------------------------------------------------------

  #arm(c: Connection<S>, kind: DeadlineKind, ms: number, now: number): void {
    c.deadlineKind = kind;
    this.#deadlines.arm(c, now, ms);
    if (now + ms < this.#timerAt) {
      this.#timerAt = now + ms;
      this.#io.timer(ms);
    }
  }

  #disarm(c: Connection<S>): void {
    c.deadlineKind = "none";
    this.#deadlines.disarm(c);
  }

  #schedule(now: number): void {
    let next = this.#deadlines.next();
    if (this.#drainAt !== null && (next === undefined || this.#drainAt < next)) next = this.#drainAt;
    if (next === undefined || next >= this.#timerAt) return;
    this.#timerAt = next;
    this.#io.timer(Math.max(0, next - now));
  }

  #expired(c: Connection<S>): void {
    switch (c.deadlineKind) {
      case "hello":
        this.#leaveHello(c, null, null);
        this.#close(c, "hello-timeout", "hello-timeout", false);
        return;
      case "connect": {
        const to = c.dialTarget;
        const ms =
          (c.decision?.action === "forward" && c.decision.connectTimeoutMs) || this.router.connectTimeoutMs;
        c.upstreamFault = true;
        c.error ??= `connect to ${to ? formatHostPort(to) : "?"} timed out after ${ms}ms`;
        this.#close(c, "upstream-error", "connect-timeout", false);
        return;
      }
      case "handshake":
        c.error ??= "TLS handshake timed out";
        this.#close(c, "challenge-failed", "handshake-timeout", true);
        return;
      case "none":
        return;
    }
  }

  #close(c: Connection<S>, outcome: Outcome | null, end: EndReason, reset: boolean): void {
    if (outcome !== null) c.outcome ??= outcome;
    c.end ??= end;
    this.#finish(c, reset);
  }

  /** Closes both sockets once, writes the record, frees what the connection held. */
  #finish(c: Connection<S>, reset: boolean): void {
    if (c.phase === "closed") return;
    this.#leaveHello(c, null, null);
    c.phase = "closed";
    this.#disarm(c);
    this.#conns.delete(c);
    this.#io.close(c.client, reset);
    if (c.upstream !== null) this.#io.close(c.upstream, reset);
    c.up.queue.length = 0;
    c.down.queue.length = 0;
    c.responder = null;
    this.router.closed(c, recordOf(c, this.router.now()));
    if (this.#stopping && this.#conns.size === 0) this.#idle?.();
  }

  /** An alpnmux bug met this connection: log it, reset this connection only. */
  #crash(c: Connection<S>, e: unknown): void {
    log.error("internal error on a connection (reset): {error}", {
      error: e instanceof Error ? (e.stack ?? e.message) : String(e),
    });
    c.outcome = "internal-error";
    c.error = message(e);
    try {
      this.#finish(c, true);
    } catch {
      // Closing failed too: the connection is dropped from the engine regardless.
      c.phase = "closed";
      this.#conns.delete(c);
    }
  }
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name === "Error" ? "" : `${e.name}: `}${e.message}` : String(e);
}

function internal(e: unknown): ResponderOutcome {
  return {
    type: "alert-sent",
    alert: Alert.internalError,
    alertName: "internalError",
    reason: message(e),
    internal: true,
  };
}

/**
 * The per-connection state machine (sans-I/O): an adapter turns socket events into calls
 * (`onData`, `onEnd`, `onTimeout`, `onUpstreamError`, `onClose`) and runs the actions it gets
 * back (wait, dial with a prelude, respond to a challenge, close). It never touches a socket.
 *
 * @module session
 */

import { formatHostPort, type HostPort } from "./address.ts";
import type { ClientHello } from "./clienthello-types.ts";
import type { CloseReason, Decision } from "./policy.ts";
import { encodeProxyV1, encodeProxyV2, type ProxyEndpoint } from "./proxy-protocol.ts";
import { createSniffer, type Sniffer } from "./sniff.ts";

/** The two ends of an accepted connection, as the runtime reports them. */
export interface ConnectionInfo {
  readonly client: ProxyEndpoint;
  readonly local: ProxyEndpoint;
}

/** What the adapter must do next. */
export type Action =
  | { readonly type: "wait" }
  | {
      readonly type: "dial";
      readonly upstream: HostPort;
      readonly connectTimeoutMs: number;
      /** Write this first: the PROXY header (if any) and every byte read from the client. */
      readonly prelude: Uint8Array;
      /** How many leading bytes of `prelude` are the PROXY header (not client bytes). */
      readonly headerLength: number;
    }
  | {
      readonly type: "respond";
      /** The built-in responder for this connection; feed it `prelude` first, then client bytes. */
      readonly responder: ResponderConnection;
      readonly prelude: Uint8Array;
    }
  | { readonly type: "close"; readonly reason: CloseReason };

/** What the built-in responder returns for each read (see `challenge-responder`). */
export interface ResponderStep {
  /** Bytes to write to the client (may be empty). */
  readonly write: Uint8Array;
  /** Close after writing. */
  readonly done: boolean;
  /** No challenge for this name and a fallback upstream is set: dial it instead. */
  readonly fallback?: Extract<Action, { type: "dial" }>;
}

/** A sans-I/O responder connection: bytes in, bytes out. */
export interface ResponderConnection {
  receive(bytes: Uint8Array): Promise<ResponderStep>;
}

/** How a connection ended, as the adapter saw it. */
export interface CloseStats {
  /** Bytes from the client written to the upstream (prelude included, PROXY header not). */
  readonly bytesUp: number;
  /** Bytes from the upstream (or responder) written to the client. */
  readonly bytesDown: number;
  /** How it ended, e.g. `eof`, `client-reset`, `upstream-reset`, `drain-timeout`. */
  readonly end?: string;
}

/** One structured line per connection. */
export interface ConnectionRecord {
  client: string;
  local: string;
  sni: string | null;
  alpn: readonly string[] | null;
  ech: boolean;
  helloBytes: number | null;
  route: string | null;
  upstream: string | null;
  outcome: string;
  end: string | null;
  error: string | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
}

/** What a session needs from its router (kept small so sessions test without sockets). */
export interface SessionHost {
  decide(hello: ClientHello): Decision;
  decideNotTls(): Decision;
  readonly maxHelloBytes: number;
  readonly maxHelloRecords: number;
  readonly helloTimeoutMs: number;
  readonly connectTimeoutMs: number;
  now(): number;
  /** Called once when the session leaves the hello phase. */
  helloDone(session: Session, helloBytes: number | null, errorCode: string | null): void;
  /** Called once when the connection is closed, with its record. */
  closed(session: Session, record: ConnectionRecord): void;
  /** Makes a responder for a builtin-ACME decision. */
  responder(
    session: Session,
    decision: Extract<Decision, { action: "acme-builtin" }>,
    hello: ClientHello,
  ): ResponderConnection;
}

/**
 * One connection's routing state. Create it with `Router.accept()`.
 *
 * @example Drive a session by hand
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * const router = createRouter({ config: parseConfig({ default: { upstream: "127.0.0.1:8443" } }) });
 * const s = router.accept({ client: { address: "192.0.2.1", port: 5000 }, local: { address: "192.0.2.2", port: 443 } });
 * // Called with each chunk read from the client.
 * function onRead(chunk: Uint8Array) {
 *   if (s.ok) return s.session.onData(chunk); // { type: "wait" } until the hello is complete
 * }
 * ```
 */
export class Session {
  readonly info: ConnectionInfo;
  readonly startedAt: number;
  /** `hello` until routed, then `routed`, then `closed`. */
  phase: "hello" | "routed" | "closed" = "hello";
  hello: ClientHello | null = null;
  decision: Decision | null = null;
  #helloBytes: number | null = null;
  #error: string | null = null;
  #outcome: string | null = null;
  readonly #sniffer: Sniffer;
  readonly #host: SessionHost;

  /**
   * @param host The router side.
   * @param info Client and local addresses.
   */
  constructor(host: SessionHost, info: ConnectionInfo) {
    this.#host = host;
    this.info = info;
    this.startedAt = host.now();
    this.#sniffer = createSniffer({ maxHelloBytes: host.maxHelloBytes, maxRecords: host.maxHelloRecords });
  }

  /** Milliseconds the adapter should wait for the hello before calling `onTimeout()`. */
  get helloTimeoutMs(): number {
    return this.#host.helloTimeoutMs;
  }

  /** The route name once decided. */
  get route(): string | null {
    return this.decision?.route ?? null;
  }

  /**
   * Feeds bytes read from the client during the hello phase.
   *
   * @param chunk Bytes as read (copied).
   * @returns The next action.
   */
  onData(chunk: Uint8Array): Action {
    if (this.phase !== "hello") return { type: "wait" };
    const r = this.#sniffer.push(chunk);
    switch (r.kind) {
      case "need-more":
        return { type: "wait" };
      case "hello":
        this.hello = r.hello;
        this.#leaveHello(r.helloBytes, null);
        return this.#act(this.#host.decide(r.hello), r.prelude, r.hello);
      case "not-tls":
        this.#leaveHello(null, null);
        return this.#act(this.#host.decideNotTls(), r.prelude, null);
      case "invalid":
      case "too-large":
        this.#error = r.error.message;
        this.#leaveHello(null, r.error.code);
        return this.#close(r.kind === "invalid" ? "invalid-hello" : "hello-too-large");
    }
  }

  /** The client half-closed (FIN) or closed. @returns close while in the hello phase, else wait. */
  onEnd(): Action {
    if (this.phase !== "hello") return { type: "wait" };
    this.#leaveHello(null, null);
    return this.#close("client-closed");
  }

  /** The hello timer fired. @returns close while still in the hello phase (fail closed), else wait. */
  onTimeout(): Action {
    if (this.phase !== "hello") return { type: "wait" };
    this.#leaveHello(null, null);
    return this.#close("hello-timeout");
  }

  /**
   * The upstream could not be reached or failed.
   * @param error What the runtime reported.
   * @returns close.
   */
  onUpstreamError(error: unknown): Action {
    this.#error = error instanceof Error ? error.message : String(error);
    this.#outcome ??= "upstream-error";
    return { type: "close", reason: "upstream-error" };
  }

  /**
   * Sets the outcome the log line and metrics will carry (e.g. `challenge-served`).
   * @param outcome Outcome label; the first one set wins.
   * @param error Optional error text.
   */
  setOutcome(outcome: string, error?: string): void {
    this.#outcome ??= outcome;
    if (error !== undefined) this.#error ??= error;
  }

  /**
   * The connection is gone: logs one line and updates metrics. Idempotent.
   * @param stats Bytes each way and how it ended.
   */
  onClose(stats: CloseStats): void {
    if (this.phase === "closed") return;
    if (this.phase === "hello") this.#leaveHello(null, null);
    if (!this.#outcome) this.#outcome = this.decision === null ? "client-closed" : "spliced";
    this.phase = "closed";
    const d = this.decision;
    const h = this.hello;
    this.#host.closed(this, {
      client: endpoint(this.info.client),
      local: endpoint(this.info.local),
      sni: h?.serverName ?? null,
      alpn: h?.alpn ?? null,
      ech: h?.ech ?? false,
      helloBytes: this.#helloBytes,
      route: d?.route ?? null,
      upstream:
        d?.action === "forward" ? endpoint({ address: d.upstream.host, port: d.upstream.port }) : null,
      outcome: this.#outcome,
      end: stats.end ?? null,
      error: this.#error,
      bytesUp: stats.bytesUp,
      bytesDown: stats.bytesDown,
      durationMs: Math.max(0, this.#host.now() - this.startedAt),
    });
  }

  #leaveHello(helloBytes: number | null, errorCode: string | null): void {
    if (this.phase !== "hello") return;
    this.phase = "routed";
    this.#helloBytes = helloBytes;
    this.#host.helloDone(this, helloBytes, errorCode);
  }

  #close(reason: CloseReason): Action {
    this.#outcome ??= reason;
    return { type: "close", reason };
  }

  #act(decision: Decision, prelude: Uint8Array, hello: ClientHello | null): Action {
    this.decision = decision;
    switch (decision.action) {
      case "reject":
        return this.#close(decision.reason);
      case "acme-builtin":
        if (hello === null) return this.#close("rejected");
        return { type: "respond", responder: this.#host.responder(this, decision, hello), prelude };
      case "forward":
        return this.dialAction(decision, prelude);
    }
  }

  /**
   * The dial action for a forward decision: PROXY header (when the route asks) + prelude.
   * @param decision A forward decision.
   * @param prelude Bytes read from the client.
   * @returns The dial action.
   */
  dialAction(
    decision: Extract<Decision, { action: "forward" }>,
    prelude: Uint8Array,
  ): Extract<Action, { type: "dial" }> {
    this.decision = decision;
    const header = proxyHeader(decision, this.info, this.hello);
    const out = header ? concat(header, prelude) : prelude.slice();
    return {
      type: "dial",
      upstream: decision.upstream,
      connectTimeoutMs: decision.connectTimeoutMs ?? this.#host.connectTimeoutMs,
      prelude: out,
      headerLength: header?.length ?? 0,
    };
  }
}

/**
 * The PROXY header a route asks for. v2 TLVs: PP2_TYPE_AUTHORITY carries the SNI; PP2_TYPE_ALPN
 * carries the **first protocol the client offered** (in passthrough the negotiated one is not
 * known).
 */
function proxyHeader(
  d: Extract<Decision, { action: "forward" }>,
  info: ConnectionInfo,
  hello: ClientHello | null,
): Uint8Array | null {
  if (d.proxy === "none") return null;
  const addresses = { source: info.client, destination: info.local };
  const authority = d.tlvs.includes("authority") ? (hello?.serverName ?? undefined) : undefined;
  const alpn = d.tlvs.includes("alpn") ? hello?.alpn?.[0] : undefined;
  const tlvs = { ...(alpn !== undefined ? { alpn } : {}), ...(authority !== undefined ? { authority } : {}) };
  try {
    return d.proxy === "v1" ? encodeProxyV1(addresses) : encodeProxyV2({ ...addresses, tlvs });
  } catch {
    // The runtime gave an address the encoder refuses (e.g. a Unix socket): send the
    // "unknown"/LOCAL form rather than failing the connection.
    return d.proxy === "v1" ? encodeProxyV1() : encodeProxyV2({ command: "local", tlvs });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function endpoint(e: ProxyEndpoint): string {
  return formatHostPort({ host: e.address, port: e.port });
}

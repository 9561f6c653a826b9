/**
 * One connection's state inside the engine: which phase it is in, its sockets (the adapter's
 * handles), the bytes held while the other side cannot take them, and what the log line will
 * say. Only the engine changes it; adapters read `client` and `upstream`.
 *
 * @module connection
 */

import type { ClientHello } from "./clienthello-types.ts";
import type { Deadlined, DeadlineList } from "./deadlines.ts";
import type { ConnectionInfo, EndReason, EngineConnection, Outcome } from "./engine-types.ts";
import type { Decision } from "./policy.ts";
import type { Sniffer } from "./sniff.ts";
import type { ChallengeResponder } from "./tls13/responder.ts";

/**
 * The phases, in order: `hello` (reading the ClientHello) → `lookup` (built-in responder: is a
 * challenge stored?) → `respond` (the TLS handshake) or `dialing` → `splice` → `closed`.
 */
export type Phase = "hello" | "lookup" | "respond" | "dialing" | "splice" | "closed";

/** What the connection's single deadline is for. */
export type DeadlineKind = "hello" | "connect" | "handshake" | "none";

/** One direction of a splice: bytes from `from` to `to`. */
export interface Flow {
  /** Copies held until `to` can take them (dialing, or `to` backed up). */
  queue: Uint8Array[];
  queued: number;
  /** `to` returned false from write: wait for its drain. */
  blocked: boolean;
  /** The engine paused reading `from` because of this flow. */
  paused: boolean;
  /** `from` sent FIN. */
  eof: boolean;
  /** FIN was passed on to `to`. */
  shut: boolean;
}

const flow = (): Flow => ({ queue: [], queued: 0, blocked: false, paused: false, eof: false, shut: false });

/**
 * A connection in the engine.
 *
 * @typeParam S The adapter's socket handle.
 * @example
 * ```ts
 * import type { Connection } from "@alpnmux/core";
 * function describe(c: Connection<unknown>): string {
 *   return `${c.phase} ${c.outcome ?? "open"}`;
 * }
 * ```
 */
export class Connection<S> implements EngineConnection<S>, Deadlined {
  readonly info: ConnectionInfo;
  readonly startedAt: number;
  readonly client: S;
  upstream: S | null = null;
  phase: Phase = "hello";
  sniffer: Sniffer | null = null;
  /** The parsed hello, until the PROXY header is written (its byte views pin the sniffer's buffer). */
  hello: ClientHello | null = null;
  /** What the log record keeps of the hello. */
  sni: string | null = null;
  alpn: readonly string[] | null = null;
  ech = false;
  helloBytes: number | null = null;
  decision: Decision | null = null;
  /** Where `dialing` goes (a forward decision, or a builtin route's fallback). */
  dialTarget: { host: string; port: number } | null = null;
  outcome: Outcome | null = null;
  end: EndReason | null = null;
  error: string | null = null;
  /** An upstream fault (refused, timed out, reset): counted in `alpnmux_upstream_errors_total`. */
  upstreamFault = false;
  bytesUp = 0;
  bytesDown = 0;
  /** Client → upstream (or → responder). */
  readonly up: Flow = flow();
  /** Upstream → client. */
  readonly down: Flow = flow();
  responder: ChallengeResponder | null = null;
  /** A `receive()` of the responder is in flight. */
  responderBusy = false;
  /** Close gracefully once everything written to the client has drained. */
  closeWhenFlushed = false;
  deadlineKind: DeadlineKind = "none";
  deadlineAt = 0;
  deadlinePrev: Deadlined | null = null;
  deadlineNext: Deadlined | null = null;
  deadlineList: DeadlineList | null = null;

  /**
   * @param client The adapter's handle for the accepted socket.
   * @param info Client and local addresses.
   * @param now The accept time in ms.
   */
  constructor(client: S, info: ConnectionInfo, now: number) {
    this.client = client;
    this.info = info;
    this.startedAt = now;
  }

  /** The route name once decided. */
  get route(): string | null {
    return this.decision?.route ?? null;
  }
}

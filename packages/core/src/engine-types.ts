/**
 * The vocabulary of the connection engine: the two sides of a connection, the closed unions of
 * outcomes and end reasons, the one log record per connection, and the I/O a runtime adapter
 * performs for the engine ({@linkcode EngineIO}).
 *
 * @module engine-types
 */

import type { Connection } from "./connection.ts";
import type { CloseReason } from "./policy.ts";
import type { ProxyEndpoint } from "./proxy-protocol.ts";

/** The two sockets of a connection: the accepted client and the dialed upstream. */
export type Side = "client" | "upstream";

/** The two ends of an accepted connection, as the runtime reports them. */
export interface ConnectionInfo {
  readonly client: ProxyEndpoint;
  readonly local: ProxyEndpoint;
}

/**
 * What happened to a connection, once, for the log line and `alpnmux_connections_total`:
 *
 * | outcome | meaning |
 * |---|---|
 * | `spliced` | routed to an upstream and spliced until one side ended (either side may have reset: see `end`) |
 * | `upstream-error` | the upstream could not be reached, or reset or failed while spliced (a server fault) |
 * | `challenge-served` / `challenge-failed` / `challenge-missing` | the built-in responder completed / failed / had no challenge |
 * | `challenge-fallback` | no challenge stored: passed to the route's fallback upstream |
 * | `challenge-unavailable` | an `acme: builtin` route, but no responder configured |
 * | `rejected`, `not-tls`, `no-sni`, `invalid-hello`, `hello-too-large` | the policy or the sniffer refused it |
 * | `hello-timeout` | no complete hello within `helloTimeout` |
 * | `client-closed` | the client left before a route was decided |
 * | `limit` | refused at accept by a connection limit |
 * | `shutdown` | closed before routing because the server stopped |
 * | `internal-error` | an alpnmux bug met this connection: it was reset and the error logged |
 */
export type Outcome =
  | "spliced"
  | "challenge-served"
  | "challenge-failed"
  | "challenge-missing"
  | "challenge-fallback"
  | "challenge-unavailable"
  | "internal-error"
  // The router's own close reasons: rejected, not-tls, no-sni, invalid-hello, hello-too-large,
  // hello-timeout, client-closed, limit, upstream-error, shutdown.
  | CloseReason;

/**
 * How the sockets ended (the log line's `end`):
 *
 * | end | meaning |
 * |---|---|
 * | `eof` | both sides sent FIN and everything was delivered |
 * | `client-reset` / `upstream-reset` | that side reset (or its socket failed); the other was reset too |
 * | `client-closed` / `upstream-closed` | that side closed before the other finished |
 * | `responder-done` | the built-in responder finished its handshake (or sent its alert) |
 * | `handshake-timeout` | the challenge handshake did not finish within `helloTimeout` |
 * | `connect-failed` / `connect-timeout` | the upstream could not be reached |
 * | `drain-timeout` | still open when the stop's drain time ran out: reset |
 * | a close reason (`rejected`, `hello-timeout`, `shutdown`, …) | the router closed it before splicing |
 */
export type EndReason =
  | "eof"
  | "client-reset"
  | "upstream-reset"
  | "client-closed"
  | "upstream-closed"
  | "responder-done"
  | "handshake-timeout"
  | "connect-failed"
  | "connect-timeout"
  | "drain-timeout"
  | "challenge-unavailable"
  | CloseReason;

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
  outcome: Outcome;
  end: EndReason | null;
  error: string | null;
  /** Bytes from the client handed to the upstream or the responder (PROXY header not counted). */
  bytesUp: number;
  /** Bytes handed to the client (from the upstream or the responder). */
  bytesDown: number;
  durationMs: number;
}

/**
 * The socket operations the engine asks for. An adapter implements each as one call on its
 * runtime's socket (a translation, never a decision), and reports what the sockets do through
 * the engine's event methods (`data`, `end`, `reset`, `closed`, `drained`, `dialed`,
 * `dialFailed`, `timeout`).
 *
 * Bytes passed to `write` stay untouched by the engine until the side is drained; bytes the
 * adapter passes to `Engine.data` need only stay valid during that call (the engine copies what
 * it keeps), and the adapter may reuse its read buffer once the engine has not paused that side.
 *
 * @typeParam S The adapter's handle for one socket.
 */
export interface EngineIO<S> {
  /**
   * Writes bytes to one side. Returns `true` when the socket can take more now, `false` when it
   * is backed up: the engine then waits for `drained(side)` before writing again.
   */
  write(socket: S, bytes: Uint8Array): boolean;
  /** Stops reading from a socket (backpressure). */
  pause(socket: S): void;
  /** Reads again. */
  resume(socket: S): void;
  /** Sends FIN, keeps reading (half-close). */
  shutdown(socket: S): void;
  /** Closes a socket: with a reset (RST where the runtime can) or gracefully (FIN after what is queued). */
  close(socket: S, reset: boolean): void;
  /** Starts a TCP connect; report `dialed(conn, socket)` or `dialFailed(conn, error)`. */
  dial(conn: Connection<S>, host: string, port: number): void;
  /** Calls `engine.timeout()` after `delayMs` (replacing any earlier request). */
  timer(delayMs: number): void;
}

/** The part of a connection an adapter sees: its sockets, as the adapter's own handles. */
export interface EngineConnection<S> {
  readonly client: S;
  readonly upstream: S | null;
}

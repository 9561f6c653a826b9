/**
 * Typed errors of the core, each with a closed `code` union (Go's alert table, std's
 * `XmlSyntaxError` pattern).
 *
 * @module errors
 */

/** Why a first flight is not an acceptable ClientHello. */
export type ClientHelloErrorCode =
  | "truncated"
  | "trailing-data"
  | "duplicate-extension"
  | "empty-alpn-list"
  | "empty-alpn-protocol"
  | "empty-server-name-list"
  | "multiple-host-names"
  | "empty-server-name"
  | "server-name-too-long"
  | "server-name-trailing-dot"
  | "server-name-empty-label"
  | "server-name-bad-character"
  | "empty-list"
  | "empty-key-exchange"
  | "bad-session-id"
  | "bad-early-data"
  | "psk-not-last"
  | "not-client-hello"
  | "sslv2-hello"
  | "bad-record-version"
  | "record-overflow"
  | "empty-record"
  | "interleaved-record"
  | "too-many-records"
  | "too-large"
  /**
   * Not a property of the input: the sniffer caught an exception other than a
   * `ClientHelloError`, i.e. a bug. The bytes are refused rather than the exception thrown at
   * the network; `cause` holds the exception. Tests assert it never happens.
   */
  | "internal";

/**
 * A first flight that cannot be read as a TLS ClientHello.
 *
 * `offset` is the byte offset in the connection's byte stream (record headers included) where
 * the problem was found.
 *
 * @example Catch a parse error
 * ```ts
 * import { ClientHelloError, parseClientHello } from "@alpnmux/core";
 * try {
 *   parseClientHello(new Uint8Array([2, 0, 0, 0]));
 * } catch (e) {
 *   if (e instanceof ClientHelloError) console.log(e.code, e.offset); // "not-client-hello" 0
 * }
 * ```
 */
export class ClientHelloError extends SyntaxError {
  /** What is wrong, as a stable machine-readable code. */
  readonly code: ClientHelloErrorCode;
  /** Byte offset in the input stream where the problem was found. */
  readonly offset: number;

  /**
   * @param code The stable error code.
   * @param offset Byte offset where the problem was found.
   * @param reason The human-readable reason, without the "Cannot parse ClientHello:" prefix.
   * @param options `cause`: the underlying exception (for `internal`).
   */
  constructor(code: ClientHelloErrorCode, offset: number, reason: string, options?: { cause?: unknown }) {
    super(`Cannot parse ClientHello: ${reason}`, options);
    this.name = "ClientHelloError";
    this.code = code;
    this.offset = offset;
  }
}

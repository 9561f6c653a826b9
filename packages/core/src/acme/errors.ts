/**
 * Errors of the ACME client: one class, {@linkcode AcmeError}, with a closed `code` union, the
 * CA's problem documents (RFC 8555, Section 6.7; RFC 7807) and the CA's `Retry-After`.
 *
 * @example
 * ```ts
 * import { AcmeError } from "@alpnmux/core/acme";
 * const e = new AcmeError("problem", "rate limited", {
 *   problem: { type: "urn:ietf:params:acme:error:rateLimited", detail: "too many" },
 *   retryAfterMs: 3_600_000,
 * });
 * console.log(e.rateLimited, e.retryAfterMs); // true 3600000
 * ```
 *
 * @module acme/errors
 */

import type { AcmeProblemDocument } from "../certs/status.ts";

export type { AcmeProblemDocument };

/** The prefix of ACME's own problem types (RFC 8555, Section 6.7). */
export const ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:";

/** Why an ACME operation failed. Closed union. */
export type AcmeErrorCode =
  /** The CA answered with a problem document (`problem` is set). */
  | "problem"
  /** The CA's answer is not what RFC 8555 says it must be (the message says what is wrong). */
  | "bad-response"
  /** `fetch` itself failed (DNS, TCP, TLS); `cause` is its error. */
  | "network"
  /** The order took longer than `orderTimeoutMs`. */
  | "timeout"
  /** The requested profile is not among the directory's `meta.profiles`. */
  | "unknown-profile"
  /** At least one authorization became invalid; `problems` has one entry per identifier. */
  | "authorization-failed"
  /** The order became invalid after finalization; `problem` is the order's error. */
  | "order-failed"
  /** An authorization offers no `tls-alpn-01` challenge. */
  | "no-tls-alpn-challenge"
  /** The caller's `signal` aborted the order. */
  | "aborted";

/** Optional details of an {@linkcode AcmeError}. */
export interface AcmeErrorOptions {
  readonly problem?: AcmeProblemDocument | undefined;
  readonly problems?: readonly AcmeProblemDocument[] | undefined;
  readonly retryAfterMs?: number | undefined;
  readonly status?: number | undefined;
  readonly cause?: unknown;
}

/**
 * An ACME operation that failed.
 *
 * @example
 * ```ts
 * import { AcmeError } from "@alpnmux/core/acme";
 * const e = new AcmeError("timeout", "order not done after 300 s");
 * console.log(e.code, e.problems.length, e.rateLimited); // "timeout" 0 false
 * ```
 */
export class AcmeError extends Error {
  /** What went wrong. */
  readonly code: AcmeErrorCode;
  /** The CA's problem document, when there is one. */
  readonly problem?: AcmeProblemDocument;
  /** One problem per failed identifier (authorization errors, subproblems), `identifier` set. */
  readonly problems: readonly AcmeProblemDocument[];
  /** `Retry-After` of the failing response, in milliseconds from when it arrived. */
  readonly retryAfterMs?: number;
  /** The HTTP status of the failing response. */
  readonly status?: number;

  /**
   * @param code The error code.
   * @param message One line for humans.
   * @param options Problem documents, Retry-After, status and cause.
   */
  constructor(code: AcmeErrorCode, message: string, options: AcmeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AcmeError";
    this.code = code;
    if (options.problem !== undefined) this.problem = options.problem;
    this.problems =
      options.problems ?? options.problem?.subproblems?.filter((p) => p.identifier !== undefined) ?? [];
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.status !== undefined) this.status = options.status;
  }

  /** Whether the CA said `urn:ietf:params:acme:error:rateLimited`. */
  get rateLimited(): boolean {
    return this.problem?.type === `${ACME_ERROR_PREFIX}rateLimited`;
  }
}

/**
 * Parses `Retry-After` (RFC 9110, Section 10.2.3): delay seconds or an HTTP date.
 *
 * @param value The header value, or null.
 * @param now The current time, epoch ms (for the date form).
 * @returns Milliseconds to wait (never negative), or undefined when absent or unreadable.
 * @example
 * ```ts
 * import { parseRetryAfter } from "@alpnmux/core/acme";
 * parseRetryAfter("120", 0); // 120000
 * parseRetryAfter("Thu, 01 Jan 1970 00:01:00 GMT", 0); // 60000
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An IMF-fixdate (or the obsolete forms Date.parse also reads); a bare number is handled above.
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The identifier of a problem or authorization, when it has the RFC 8555 shape. */
export function parseIdentifier(v: unknown): AcmeProblemDocument["identifier"] | undefined {
  if (!isObject(v) || typeof v.value !== "string") return undefined;
  if (v.type !== "dns" && v.type !== "ip") return undefined;
  return { type: v.type, value: v.value };
}

/**
 * Reads a problem document (RFC 7807 with ACME's `identifier` and `subproblems`), keeping only
 * the fields of {@linkcode AcmeProblemDocument} that have the right type.
 *
 * @param json Parsed JSON.
 * @returns The problem, or null when `json` has no string `type`.
 * @example
 * ```ts
 * import { parseProblem } from "@alpnmux/core/acme";
 * parseProblem({ type: "urn:ietf:params:acme:error:malformed", detail: "no", status: 400 });
 * // { type: "urn:ietf:params:acme:error:malformed", detail: "no", status: 400 }
 * ```
 */
export function parseProblem(json: unknown): AcmeProblemDocument | null {
  if (!isObject(json) || typeof json.type !== "string" || json.type === "") return null;
  const identifier = parseIdentifier(json.identifier);
  const subproblems = Array.isArray(json.subproblems)
    ? json.subproblems.map(parseProblem).filter((p): p is AcmeProblemDocument => p !== null)
    : [];
  return {
    type: json.type,
    ...(typeof json.detail === "string" ? { detail: json.detail } : {}),
    ...(typeof json.status === "number" ? { status: json.status } : {}),
    ...(identifier !== undefined ? { identifier } : {}),
    ...(subproblems.length > 0 ? { subproblems } : {}),
  };
}

/**
 * One line for a problem: its type and detail.
 *
 * @param problem The problem.
 * @returns e.g. `urn:ietf:params:acme:error:connection: Failed to connect`.
 * @example
 * ```ts
 * import { describeProblem } from "@alpnmux/core/acme";
 * describeProblem({ type: "urn:ietf:params:acme:error:dns", detail: "NXDOMAIN" });
 * // "urn:ietf:params:acme:error:dns: NXDOMAIN"
 * ```
 */
export function describeProblem(problem: AcmeProblemDocument): string {
  return problem.detail === undefined ? problem.type : `${problem.type}: ${problem.detail}`;
}

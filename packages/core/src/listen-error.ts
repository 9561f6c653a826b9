/**
 * A listen address that cannot be bound, with advice, from whatever error the runtime threw
 * (Bun: `EACCES`/`EADDRINUSE` codes; Deno: `PermissionDenied`/`AddrInUse` error names).
 *
 * @module listen-error
 */

import { formatHostPort, type HostPort } from "./address.ts";

/** A listen address could not be bound.
 *
 * @example
 * ```ts
 * import { ListenError } from "@alpnmux/core";
 * const e = ListenError.from(new Error("EADDRINUSE"), { host: "::", port: 8443 });
 * e.code; // "in-use"
 * ```
 */
export class ListenError extends Error {
  /** `permission` (privileged port), `in-use`, or `other`. */
  readonly code: "permission" | "in-use" | "other";
  /**
   * @param code Stable code.
   * @param message What failed and what to do.
   * @param cause The runtime error.
   */
  constructor(code: "permission" | "in-use" | "other", message: string, cause: unknown) {
    super(message, { cause });
    this.name = "ListenError";
    this.code = code;
  }

  /**
   * Maps a runtime error to a ListenError with advice.
   *
   * @param e The runtime error.
   * @param at The address that failed.
   * @returns The error to report.
   * @example
   * ```ts
   * import { ListenError } from "@alpnmux/core";
   * ListenError.from(new Error("EACCES"), { host: "::", port: 443 }).code; // "permission"
   * ```
   */
  static from(e: unknown, at: HostPort): ListenError {
    const text =
      e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ""} ${e.message}` : String(e);
    const addr = formatHostPort(at);
    const inUse = /EADDRINUSE|AddrInUse|in use/i.test(text);
    if (/EACCES|PermissionDenied|permission/i.test(text) || (at.port < 1024 && !inUse)) {
      return new ListenError(
        "permission",
        `Cannot listen on ${addr}: ports below 1024 need privilege. Run the binary with CAP_NET_BIND_SERVICE ` +
          "(systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE; or: sudo setcap cap_net_bind_service=+ep ./alpnmux), " +
          "or listen on a high port with --listen.",
        e,
      );
    }
    if (inUse) {
      return new ListenError(
        "in-use",
        `Cannot listen on ${addr}: the address is already in use (another program holds it).`,
        e,
      );
    }
    return new ListenError("other", `Cannot listen on ${addr}: ${text.trim()}`, e);
  }
}

/**
 * Whether and where the admin API listens, and with which token.
 *
 * @module admin-settings
 */

import { type HostPort, parseHostPort } from "./address.ts";
import { ConfigError, type RouterConfig } from "./config.ts";
import { parseIp } from "./ip.ts";

/** Default admin address when the built-in responder is used and none is configured. */
export const DEFAULT_ADMIN_LISTEN = "127.0.0.1:9180";

/** The fewest characters an admin token may have. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** RFC 6750, Section 2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const B64TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * Why a string cannot be the admin bearer token, or null when it can: it must have at least
 * {@linkcode MIN_ADMIN_TOKEN_LENGTH} characters, and only those a bearer token may carry
 * (RFC 6750 `b64token`), else no `Authorization` header could ever present it.
 *
 * @param token The candidate.
 * @returns The reason, e.g. `must be at least 16 characters`, or null.
 * @example
 * ```ts
 * import { adminTokenProblem } from "@alpnmux/core";
 * adminTokenProblem("short"); // "must be at least 16 characters"
 * adminTokenProblem("s3cret-token-0123456789"); // null
 * ```
 */
export function adminTokenProblem(token: string): string | null {
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) return `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`;
  if (!B64TOKEN.test(token)) {
    return 'must use only A-Z, a-z, 0-9 and "-._~+/", then "=" padding (an RFC 6750 bearer token)';
  }
  return null;
}

/** Resolved admin API settings. */
export interface AdminSettings {
  readonly listen: HostPort;
  readonly token: string;
  /** The token was generated at start-up (print it once so scripts can use it). */
  readonly generated: boolean;
}

/**
 * Decides the admin API settings. It runs when `admin.listen` is set, or when a route uses
 * `acme: builtin` (then on 127.0.0.1:9180). The token comes from `admin.token`, the
 * `ALPNMUX_ADMIN_TOKEN` variable, `admin.tokenFile`, or is generated. A non-loopback address
 * without a configured token refuses to start, and so does a token {@linkcode adminTokenProblem}
 * refuses.
 *
 * @param config The checked config.
 * @param env `ALPNMUX_ADMIN_TOKEN` if set.
 * @param readFile Reads the token file (text).
 * @returns The settings, or null when the admin API is off.
 * @throws {ConfigError} For a non-loopback address without a token, an empty token file, or a
 *   token that is too short or has characters a bearer token cannot carry (the path
 *   names its source: `admin.token`, `ALPNMUX_ADMIN_TOKEN` or `admin.tokenFile`).
 * @example
 * ```ts
 * import { parseConfig, resolveAdminSettings } from "@alpnmux/core";
 * const s = resolveAdminSettings(parseConfig({ admin: { listen: "127.0.0.1:9180" }, default: "reject" }), {}, () => "");
 * s?.generated; // true
 * ```
 */
export function resolveAdminSettings(
  config: RouterConfig,
  env: { ALPNMUX_ADMIN_TOKEN?: string | undefined },
  readFile: (path: string) => string,
): AdminSettings | null {
  const builtin = config.routes.some((r) => typeof r.target === "object" && "acme" in r.target);
  const listen = config.admin?.listen ?? (builtin ? parseHostPort(DEFAULT_ADMIN_LISTEN) : null);
  if (!listen) return null;
  let token = config.admin?.token ?? env.ALPNMUX_ADMIN_TOKEN ?? undefined;
  let from = config.admin?.token !== undefined ? "admin.token" : "ALPNMUX_ADMIN_TOKEN";
  if (!token && config.admin?.tokenFile) {
    token = readFile(config.admin.tokenFile).trim();
    from = "admin.tokenFile";
    if (!token)
      throw new ConfigError("invalid-config", [
        { path: "admin.tokenFile", message: "the token file is empty" },
      ]);
  }
  const problem = token ? adminTokenProblem(token) : null;
  if (problem !== null) throw new ConfigError("invalid-config", [{ path: from, message: problem }]);
  if (!token) {
    if (!isLoopback(listen.host)) {
      throw new ConfigError("invalid-config", [
        {
          path: "admin.token",
          message: `the admin API on ${listen.host} (not loopback) needs a token: set admin.token, admin.tokenFile or ALPNMUX_ADMIN_TOKEN`,
        },
      ]);
    }
    return { listen, token: generateToken(), generated: true };
  }
  return { listen, token, generated: false };
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const ip = parseIp(host);
  if (!ip) return false;
  return ip.family === 4 ? ip.bytes[0] === 127 : ip.bytes.every((b, i) => b === (i === 15 ? 1 : 0));
}

function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

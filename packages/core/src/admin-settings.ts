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
 * without a configured token refuses to start.
 *
 * @param config The checked config.
 * @param env `ALPNMUX_ADMIN_TOKEN` if set.
 * @param readFile Reads the token file (text).
 * @returns The settings, or null when the admin API is off.
 * @throws {ConfigError} For a non-loopback address without a token, or an empty token file.
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
  if (!token && config.admin?.tokenFile) {
    token = readFile(config.admin.tokenFile).trim();
    if (!token)
      throw new ConfigError("invalid-config", [
        { path: "admin.tokenFile", message: "the token file is empty" },
      ]);
  }
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

/**
 * `host:port` addresses as they appear in config and flags: `127.0.0.1:8443`, `[::1]:443`,
 * `backend.internal:443`, and `:443` (all interfaces) for listeners.
 *
 * @module address
 */

import { parseIp } from "./ip.ts";

/** A parsed `host:port`. */
export interface HostPort {
  /** IPv4 literal, IPv6 literal (no brackets) or DNS name; "" for "any address" in listeners. */
  readonly host: string;
  readonly port: number;
}

/** Why an address does not parse.
 *
 * @example
 * ```ts
 * import { AddressError, parseHostPort } from "@alpnmux/core";
 * try { parseHostPort("10.0.0.5"); } catch (e) { if (e instanceof AddressError) e.code; } // "no-port"
 * ```
 */
export class AddressError extends TypeError {
  /** Stable code: `no-port`, `bad-port`, `bad-host`. */
  readonly code: "no-port" | "bad-port" | "bad-host";
  /**
   * @param code Stable code.
   * @param message Human-readable reason, naming the input.
   */
  constructor(code: "no-port" | "bad-port" | "bad-host", message: string) {
    super(message);
    this.name = "AddressError";
    this.code = code;
  }
}

const NAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

/**
 * Parses `host:port`. IPv6 literals need brackets.
 *
 * @param text The address text.
 * @param options `allowEmptyHost`: listener mode, accepting `:443` and port 0 (any free port); default false.
 * @returns Host and port.
 * @throws {AddressError} With a message like `"10.0.0.5" has no port`.
 * @example
 * ```ts
 * import { parseHostPort } from "@alpnmux/core";
 * parseHostPort("[::1]:8443"); // { host: "::1", port: 8443 }
 * ```
 */
export function parseHostPort(text: string, options: { allowEmptyHost?: boolean } = {}): HostPort {
  const q = JSON.stringify(text);
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw new AddressError("bad-host", `${q} has "[" without "]"`);
    host = text.slice(1, close);
    if (text[close + 1] !== ":") throw new AddressError("no-port", `${q} has no port`);
    portText = text.slice(close + 2);
    if (parseIp(host)?.family !== 6)
      throw new AddressError("bad-host", `${q}: "${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new AddressError("no-port", `${q} has no port`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) {
      throw new AddressError("bad-host", `${q}: write IPv6 addresses in brackets, like "[::1]:443"`);
    }
    if (host === "") {
      if (!options.allowEmptyHost) throw new AddressError("bad-host", `${q} has no host`);
    } else if (!parseIp(host) && !NAME.test(host)) {
      throw new AddressError("bad-host", `${q}: "${host}" is not an IP address or host name`);
    }
  }
  if (!/^\d{1,5}$/.test(portText))
    throw new AddressError("bad-port", `${q}: port "${portText}" is not a number`);
  const port = Number(portText);
  const min = options.allowEmptyHost ? 0 : 1;
  if (port < min || port > 65535)
    throw new AddressError("bad-port", `${q}: port ${port} is out of range ${min}-65535`);
  return { host, port };
}

/**
 * Formats a host and port, bracketing IPv6.
 *
 * @param hp Host and port.
 * @returns Text such as `[::1]:443`.
 * @example
 * ```ts
 * import { formatHostPort } from "@alpnmux/core";
 * formatHostPort({ host: "::1", port: 443 }); // "[::1]:443"
 * ```
 */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

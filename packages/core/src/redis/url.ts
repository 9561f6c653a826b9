/**
 * `redis://[[user]:password@]host[:port][/db]` URLs, and `rediss://…` for TLS, parsed
 * strictly: one of these two schemes, a host, a port in 1-65535 (default 6379 for both, as
 * `redis-cli` has it), a database number (default 0), and no query or fragment.
 *
 * @example
 * ```ts
 * import { parseRedisUrl } from "@alpnmux/core/redis";
 * parseRedisUrl("rediss://:s3cret@10.0.0.7:6380/2");
 * // { tls: true, host: "10.0.0.7", port: 6380, db: 2, username: undefined, password: "s3cret" }
 * ```
 *
 * @module url
 */

import { RedisError } from "./resp.ts";

/** Where and how to connect. */
export interface RedisUrl {
  /**
   * `true` for `rediss:`: TLS, with the server's certificate checked against `host` (the
   * password and the challenges never cross the network in clear).
   */
  readonly tls: boolean;
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** Database selected after connecting (`SELECT`) when not 0. */
  readonly db: number;
  /** ACL user name for `AUTH user password`; `undefined` for `AUTH password`. */
  readonly username: string | undefined;
  /** Password; `undefined` means no `AUTH`. */
  readonly password: string | undefined;
}

/**
 * Parses a Redis URL.
 *
 * @param text e.g. `redis://127.0.0.1:6379/0` or `rediss://redis.internal:6380`.
 * @returns The parts.
 * @throws {RedisError} Code `bad-url`, with the reason.
 * @example
 * ```ts
 * import { parseRedisUrl, RedisError } from "@alpnmux/core/redis";
 * try { parseRedisUrl("https://example.com"); }
 * catch (e) { if (e instanceof RedisError) console.log(e.code); } // "bad-url"
 * ```
 */
export function parseRedisUrl(text: string): RedisUrl {
  const bad = (reason: string): never => {
    throw new RedisError(
      "bad-url",
      `Cannot parse Redis URL ${JSON.stringify(redactRedisUrl(text))}: ${reason}`,
    );
  };
  const scheme = /^(rediss?):\/\//i.exec(text);
  if (!scheme) bad('expected "redis://host:port/db" or, for TLS, "rediss://host:port/db"');
  const tls = scheme?.[1]?.toLowerCase() === "rediss";
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return bad("not a URL");
  }
  if (u.search !== "" || u.hash !== "" || text.includes("?") || text.includes("#")) {
    bad("a query or fragment is not allowed");
  }
  let host = u.hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "") bad("the host is missing");
  let port = 6379;
  if (u.port !== "") {
    port = Number(u.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) bad(`port ${u.port} is out of range`);
  } else if ((text.slice(scheme?.[0].length).split("/")[0] ?? "").endsWith(":")) {
    bad("the port is empty");
  }
  let db = 0;
  const path = u.pathname;
  if (path !== "" && path !== "/") {
    const m = /^\/(0|[1-9][0-9]{0,4})$/.exec(path);
    if (!m) bad(`database ${JSON.stringify(path.slice(1))} is not a number in 0-99999`);
    db = Number(m?.[1]);
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return bad("bad percent-encoding in the credentials");
    }
  };
  const username = u.username === "" ? undefined : decode(u.username);
  const password = u.password === "" ? undefined : decode(u.password);
  if (username !== undefined && password === undefined) bad("a user name needs a password (user:password@)");
  return { tls, host, port, db, username, password };
}

/**
 * Hides the password of a Redis URL, for messages and logs.
 *
 * @param text A Redis URL (or any text).
 * @returns The text with the password replaced by `***`.
 * @example
 * ```ts
 * import { redactRedisUrl } from "@alpnmux/core/redis";
 * redactRedisUrl("rediss://:s3cret@10.0.0.7:6379"); // "rediss://:***@10.0.0.7:6379"
 * ```
 */
export function redactRedisUrl(text: string): string {
  return text.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
}

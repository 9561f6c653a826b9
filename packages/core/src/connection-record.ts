/**
 * The one log record of a closed connection, built from the engine's state.
 *
 * @module connection-record
 */

import { formatHostPort } from "./address.ts";
import type { Connection } from "./connection.ts";
import type { ConnectionInfo, ConnectionRecord } from "./engine-types.ts";

/**
 * The connection's log line: a connection closed without an outcome of its own was `spliced`
 * if it had a route, else `client-closed`.
 * @param c The connection.
 * @param now The current time in ms.
 * @returns The record.
 * @example
 * ```ts
 * import { Connection, recordOf } from "@alpnmux/core";
 * const c = new Connection(null, { client: { address: "192.0.2.1", port: 5000 }, local: { address: "192.0.2.2", port: 443 } }, 0);
 * recordOf(c, 12).outcome; // "client-closed"
 * ```
 */
export function recordOf(c: Connection<unknown>, now: number): ConnectionRecord {
  return {
    client: endpoint(c.info.client),
    local: endpoint(c.info.local),
    sni: c.sni,
    alpn: c.alpn,
    ech: c.ech,
    helloBytes: c.helloBytes,
    route: c.decision?.route ?? null,
    upstream: c.dialTarget ? formatHostPort(c.dialTarget) : null,
    outcome: c.outcome ?? (c.decision === null ? "client-closed" : "spliced"),
    end: c.end,
    error: c.error,
    bytesUp: c.bytesUp,
    bytesDown: c.bytesDown,
    durationMs: Math.max(0, now - c.startedAt),
  };
}

function endpoint(e: ConnectionInfo["client"]): string {
  return formatHostPort({ host: e.address, port: e.port });
}

/**
 * The PROXY protocol header a forward decision asks for, built from the connection's addresses
 * and its ClientHello.
 *
 * @module proxy-header
 */

import type { ClientHello } from "./clienthello-types.ts";
import type { ConnectionInfo } from "./engine-types.ts";
import type { Decision } from "./policy.ts";
import { encodeProxyV1, encodeProxyV2 } from "./proxy-protocol.ts";

/**
 * The PROXY header for a forward decision, or `null` when the route sends none. v2 TLVs:
 * PP2_TYPE_AUTHORITY carries the SNI; PP2_TYPE_ALPN carries the **first protocol the client
 * offered** (in passthrough the negotiated one is not known). An address the encoder refuses
 * (e.g. a Unix socket) gives the v1 `UNKNOWN` / v2 `LOCAL` form rather than failing the
 * connection.
 *
 * @param d The forward decision.
 * @param info Client and local addresses.
 * @param hello The ClientHello (`null` for a not-TLS connection).
 * @returns The header bytes, or `null`.
 * @example
 * ```ts
 * import { proxyHeaderFor } from "@alpnmux/core";
 * const h = proxyHeaderFor(
 *   { action: "forward", route: "web", upstream: { host: "127.0.0.1", port: 8443 }, proxy: "v1", tlvs: [], connectTimeoutMs: undefined },
 *   { client: { address: "192.0.2.1", port: 5000 }, local: { address: "192.0.2.2", port: 443 } },
 *   null,
 * );
 * new TextDecoder().decode(h!); // "PROXY TCP4 192.0.2.1 192.0.2.2 5000 443\r\n"
 * ```
 */
export function proxyHeaderFor(
  d: Extract<Decision, { action: "forward" }>,
  info: ConnectionInfo,
  hello: ClientHello | null,
): Uint8Array | null {
  if (d.proxy === "none") return null;
  if (d.proxy === "v1") {
    try {
      return encodeProxyV1({ source: info.client, destination: info.local });
    } catch {
      return encodeProxyV1();
    }
  }
  const authority = d.tlvs.includes("authority") ? (hello?.serverName ?? undefined) : undefined;
  const alpn = d.tlvs.includes("alpn") ? hello?.alpn?.[0] : undefined;
  const tlvs: { alpn?: string; authority?: string } = {};
  if (alpn !== undefined) tlvs.alpn = alpn;
  if (authority !== undefined) tlvs.authority = authority;
  try {
    return encodeProxyV2({ source: info.client, destination: info.local, tlvs });
  } catch {
    return encodeProxyV2({ command: "local", tlvs });
  }
}

/**
 * Which sockets to open for the configured listen addresses.
 *
 * @module listen-plan
 */

import type { HostPort } from "./address.ts";

/** One socket to bind. */
export interface ListenPlan {
  readonly host: string;
  readonly port: number;
  /** Bind `::` as IPv6-only because an IPv4 wildcard on the same port is listed too. */
  readonly ipv6Only: boolean;
}

/**
 * Plans the sockets: `[::]:443` and `0.0.0.0:443` together become an IPv6-only socket plus an
 * IPv4 socket (else the second bind fails on Linux's dual-stack default); `:443` means `[::]:443`.
 *
 * @param listen Addresses from config.
 * @param options `ipv6Only`: whether the runtime can bind IPv6-only sockets (Bun can, Deno
 *   cannot); if false, `[::]` plus `0.0.0.0` on one port become one dual-stack `[::]` socket.
 *   Default true.
 * @returns Sockets to bind, in order, duplicates removed.
 * @example
 * ```ts
 * import { planListeners } from "@alpnmux/core";
 * planListeners([{ host: "::", port: 443 }, { host: "0.0.0.0", port: 443 }]);
 * // [{ host: "::", port: 443, ipv6Only: true }, { host: "0.0.0.0", port: 443, ipv6Only: false }]
 * ```
 */
export function planListeners(
  listen: readonly HostPort[],
  options: { ipv6Only?: boolean } = {},
): ListenPlan[] {
  const canV6Only = options.ipv6Only ?? true;
  const all = listen.map((l) => ({ host: l.host === "" ? "::" : l.host, port: l.port }));
  const hosts = canV6Only
    ? all
    : all.filter((l) => !(l.host === "0.0.0.0" && all.some((o) => o.host === "::" && o.port === l.port)));
  const seen = new Set<string>();
  const out: ListenPlan[] = [];
  for (const l of hosts) {
    const key = `${l.host}|${l.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ipv6Only =
      canV6Only && l.host === "::" && hosts.some((o) => o.port === l.port && o.host === "0.0.0.0");
    out.push({ host: l.host, port: l.port, ipv6Only });
  }
  return out;
}

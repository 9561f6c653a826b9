/**
 * Identifiers as they go into an order: DNS names lower-cased without a final dot, IP
 * addresses (RFC 8738) in their canonical text (RFC 5952 for IPv6, Section 4).
 *
 * @example
 * ```ts
 * import { normalizeOrderIdentifiers } from "@alpnmux/core/acme";
 * normalizeOrderIdentifiers([{ type: "dns", value: "A.Example." }, { type: "ip", value: "2001:DB8:0:0::1" }]);
 * // [{ type: "dns", value: "a.example" }, { type: "ip", value: "2001:db8::1" }]
 * ```
 *
 * @module acme/identifiers
 */

import { formatIp, parseIp } from "../ip.ts";
import type { AcmeIdentifier } from "./resources.ts";

/**
 * Checks and normalises the identifiers of an order.
 *
 * @param identifiers At least one `dns` or `ip` identifier.
 * @returns The normalised identifiers, duplicates removed, in the given order.
 * @throws {TypeError} Naming the entry (`identifiers[1]`) that is not a DNS name or IP address.
 * @example
 * ```ts
 * import { normalizeOrderIdentifiers } from "@alpnmux/core/acme";
 * try {
 *   normalizeOrderIdentifiers([{ type: "ip", value: "example.com" }]);
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot order: identifiers[0] "example.com" is not an IP address
 * }
 * ```
 */
export function normalizeOrderIdentifiers(identifiers: readonly AcmeIdentifier[]): AcmeIdentifier[] {
  if (identifiers.length === 0) throw new TypeError("Cannot order: identifiers is empty");
  const out: AcmeIdentifier[] = [];
  const seen = new Set<string>();
  identifiers.forEach((id, i) => {
    let value: string;
    if (id.type === "ip") {
      const bare = id.value.startsWith("[") && id.value.endsWith("]") ? id.value.slice(1, -1) : id.value;
      const ip = parseIp(bare);
      if (ip === null)
        throw new TypeError(`Cannot order: identifiers[${i}] "${id.value}" is not an IP address`);
      value = formatIp(ip.bytes);
    } else if (id.type === "dns") {
      value = id.value.toLowerCase().replace(/\.$/, "");
      if (value === "" || value.length > 253 || /[\s/:@]/.test(value) || parseIp(value) !== null) {
        throw new TypeError(`Cannot order: identifiers[${i}] "${id.value}" is not a DNS name`);
      }
    } else {
      throw new TypeError(
        `Cannot order: identifiers[${i}] has type ${JSON.stringify((id as { type: unknown }).type)}, not dns or ip`,
      );
    }
    const key = `${id.type}:${value}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ type: id.type, value });
  });
  return out;
}

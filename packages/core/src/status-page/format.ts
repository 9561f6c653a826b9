/**
 * Text the status page puts in its tables: relative times ("in 89 days"), durations, and the
 * route table in words (matchers → target). Plain strings: the JSX escapes them.
 *
 * @example
 * ```ts
 * import { relativeTime } from "@alpnmux/core/status-page";
 * relativeTime(Date.UTC(2030, 0, 31), Date.UTC(2030, 0, 1)); // "in 30 days"
 * ```
 *
 * @module status-page/format
 */

import { formatHostPort } from "../address.ts";
import type { RouteConfig, RouterConfig } from "../config.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration in the largest whole unit that fits: `45 s`, `12 min`, `5 h 3 min`, `3 days 4 h`.
 *
 * @param ms Milliseconds (negative values are shown as 0 s).
 * @returns The text.
 * @example
 * ```ts
 * import { formatDuration } from "@alpnmux/core/status-page";
 * formatDuration(90 * 60_000); // "1 h 30 min"
 * ```
 */
export function formatDuration(ms: number): string {
  const t = Math.max(0, ms);
  if (t < MINUTE) return `${Math.floor(t / 1000)} s`;
  if (t < HOUR) return `${Math.floor(t / MINUTE)} min`;
  if (t < DAY) {
    const m = Math.floor((t % HOUR) / MINUTE);
    return `${Math.floor(t / HOUR)} h${m ? ` ${m} min` : ""}`;
  }
  const d = Math.floor(t / DAY);
  const h = Math.floor((t % DAY) / HOUR);
  return `${d} day${d === 1 ? "" : "s"}${h ? ` ${h} h` : ""}`;
}

/**
 * When a time is, from now: `in 30 days`, `in 5 h`, `3 min ago`. Whole days from 2 days on,
 * the finer {@linkcode formatDuration} below that.
 *
 * @param at Epoch milliseconds.
 * @param now Epoch milliseconds.
 * @returns The text.
 * @example
 * ```ts
 * import { relativeTime } from "@alpnmux/core/status-page";
 * relativeTime(0, 3 * 60_000); // "3 min ago"
 * ```
 */
export function relativeTime(at: number, now: number): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  const text = abs >= 2 * DAY ? `${Math.floor(abs / DAY)} days` : formatDuration(abs);
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/**
 * An ISO time shown as UTC to the minute: `2030-01-31 12:00 UTC`; unparseable text as given.
 *
 * @param iso An ISO 8601 time.
 * @returns The text.
 * @example
 * ```ts
 * import { formatUtc } from "@alpnmux/core/status-page";
 * formatUtc("2030-01-31T12:00:59.000Z"); // "2030-01-31 12:00 UTC"
 * ```
 */
export function formatUtc(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/**
 * A route's matchers in words, ANDed: `SNI www.example.com, *.example.org · ALPN h2`.
 *
 * @param match The route's `match`.
 * @returns The text.
 * @example
 * ```ts
 * import { describeMatch } from "@alpnmux/core/status-page";
 * describeMatch({ sni: ["a.example"], acme: true }); // "SNI a.example · ACME (acme-tls/1)"
 * ```
 */
export function describeMatch(match: RouteConfig["match"]): string {
  const parts: string[] = [];
  if (match.sni) parts.push(`SNI ${match.sni.join(", ")}`);
  if (match.alpn) parts.push(`ALPN ${match.alpn.join(", ")}`);
  if (match.acme !== undefined) {
    parts.push(match.acme === "contains" ? "ALPN offers acme-tls/1" : "ACME (acme-tls/1)");
  }
  if (match.noSni) parts.push("no SNI");
  if (match.ech !== undefined) parts.push(match.ech ? "ECH" : "no ECH");
  return parts.join(" · ");
}

/**
 * A target in words: `reject`, `127.0.0.1:8443 (PROXY v2, TLVs authority, alpn)`,
 * `built-in ACME responder (else reject)`.
 *
 * @param target A route's target or the default.
 * @returns The text.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { describeTarget } from "@alpnmux/core/status-page";
 * describeTarget(parseConfig({ default: { upstream: "127.0.0.1:8443", proxy: "v2" } }).default);
 * // "127.0.0.1:8443 (PROXY v2)"
 * ```
 */
export function describeTarget(target: RouteConfig["target"] | RouterConfig["default"]): string {
  if (target === "reject") return "reject";
  if ("acme" in target) {
    const fallback = target.fallback === "reject" ? "reject" : formatHostPort(target.fallback.upstream);
    return `built-in ACME responder (else ${fallback})`;
  }
  const extras: string[] = [];
  if (target.proxy !== "none") extras.push(`PROXY ${target.proxy}`);
  if (target.tlvs.length > 0) extras.push(`TLVs ${target.tlvs.join(", ")}`);
  if (target.connectTimeout !== undefined) extras.push(`connect timeout ${target.connectTimeout} ms`);
  return `${formatHostPort(target.upstream)}${extras.length ? ` (${extras.join(", ")})` : ""}`;
}

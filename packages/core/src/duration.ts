/**
 * Durations as written in config and flags: `10s`, `500ms`, `2m`, `1h`, or a number of ms.
 *
 * @module duration
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration to milliseconds.
 *
 * @param text `"10s"`, `"1.5s"`, `"500ms"`, `"2m"`, `"1h"`, or a number (milliseconds).
 * @returns Milliseconds, or null when the text is not a duration.
 * @example
 * ```ts
 * import { parseDuration } from "@alpnmux/core";
 * parseDuration("1.5s"); // 1500
 * ```
 */
export function parseDuration(text: string | number): number | null {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

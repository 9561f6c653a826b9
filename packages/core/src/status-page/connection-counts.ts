/**
 * The few connection numbers the status page shows, read from Prometheus text (format 0.0.4):
 * the router's own `registry.render()`, or the primary's sum over its workers (`metricsText`),
 * so one code path serves both.
 *
 * @example
 * ```ts
 * import { connectionCounts } from "@alpnmux/core/status-page";
 * connectionCounts('alpnmux_connections_active 2\nalpnmux_connections_total{route="web",outcome="spliced"} 5\n');
 * // { active: 2, inHello: 0, closed: [{ outcome: "spliced", count: 5, byRoute: [{ route: "web", count: 5 }] }] }
 * ```
 *
 * @module status-page/connection-counts
 */

/** Connections now and closed so far. */
export interface ConnectionCounts {
  /** `alpnmux_connections_active`: open now. */
  readonly active: number;
  /** `alpnmux_hello_phase_connections`: open and still waiting for a whole ClientHello. */
  readonly inHello: number;
  /** `alpnmux_connections_total` summed by outcome (largest first), with each route's share. */
  readonly closed: readonly {
    readonly outcome: string;
    readonly count: number;
    readonly byRoute: readonly { readonly route: string; readonly count: number }[];
  }[];
}

/** One sample line: name, optional `{labels}`, value (a timestamp, if any, is ignored). */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
/** One label pair; the value may hold `\\`, `\"` and `\n` escapes. */
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function parseLabels(text: string): Map<string, string> | null {
  const labels = new Map<string, string>();
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (m === null) return text.slice(LABEL.lastIndex).trim() === "" ? labels : null;
    const value = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    labels.set(m[1] as string, value);
  }
  return labels;
}

/**
 * Reads the connection series out of Prometheus text; other series and malformed lines are
 * ignored, and a missing series counts as 0.
 *
 * @param text A `/metrics` body.
 * @returns The counts.
 * @example
 * ```ts
 * import { connectionCounts } from "@alpnmux/core/status-page";
 * connectionCounts("").active; // 0
 * ```
 */
export function connectionCounts(text: string): ConnectionCounts {
  let active = 0;
  let inHello = 0;
  const closed = new Map<string, Map<string, number>>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (m === null) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    if (m[1] === "alpnmux_connections_active") active += value;
    else if (m[1] === "alpnmux_hello_phase_connections") inHello += value;
    else if (m[1] === "alpnmux_connections_total") {
      const labels = parseLabels(m[2] ?? "");
      if (labels === null) continue;
      const outcome = labels.get("outcome") ?? "";
      const route = labels.get("route") ?? "";
      const routes = closed.get(outcome) ?? new Map<string, number>();
      routes.set(route, (routes.get(route) ?? 0) + value);
      closed.set(outcome, routes);
    }
  }
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    active,
    inHello,
    closed: [...closed]
      .map(([outcome, routes]) => ({
        outcome,
        count: sum(routes),
        byRoute: [...routes]
          .map(([route, count]) => ({ route, count }))
          .sort((a, b) => b.count - a.count || a.route.localeCompare(b.route)),
      }))
      .sort((a, b) => b.count - a.count || a.outcome.localeCompare(b.outcome)),
  };
}

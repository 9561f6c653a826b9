/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * The status page itself: a header (version, uptime, log out) over the sections.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { statusPageHtml } from "@alpnmux/core/status-page";
 * const html = statusPageHtml({
 *   now: 0, startedAt: 0, certificates: null, challenges: [],
 *   config: parseConfig({ default: "reject" }),
 *   connections: { active: 0, inHello: 0, closed: [] },
 * });
 * html.includes("No certificates configured"); // true
 * ```
 *
 * @module status-page/page
 */

import type { CertificateStatus } from "../certs/status.ts";
import type { RouterConfig } from "../config.ts";
import type { ConnectionCounts } from "./connection-counts.ts";
import { formatDuration, formatUtc } from "./format.ts";
import { htmlDocument } from "./layout.tsx";
import { Certificates, Challenges, Connections, Routes } from "./sections.tsx";

/** Everything the page shows, gathered at request time. */
export interface StatusData {
  /** Epoch milliseconds of the request. */
  readonly now: number;
  /** Epoch milliseconds the admin API started (uptime is `now - startedAt`). */
  readonly startedAt: number;
  /** alpnmux's version, if known. */
  readonly version?: string;
  /** The certificate manager's statuses, or null when there is no manager. */
  readonly certificates: readonly CertificateStatus[] | null;
  /** Challenges in the store (epoch-ms expiry, `Infinity` for never). */
  readonly challenges: readonly { readonly identifier: string; readonly expiresAt: number }[];
  /** Why the challenge store could not be read, if it could not (Redis down). */
  readonly challengesError?: string;
  /** The config in force (its route table). */
  readonly config: RouterConfig;
  /** Connection numbers (summed over workers). */
  readonly connections: ConnectionCounts;
  /** Why the metrics could not be read, if they could not (a worker not answering). */
  readonly connectionsError?: string;
}

/**
 * Renders the status page.
 *
 * @param data What to show.
 * @returns The HTML text.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { statusPageHtml } from "@alpnmux/core/status-page";
 * statusPageHtml({
 *   now: 3_600_000, startedAt: 0, version: "1.0.0", certificates: null, challenges: [],
 *   config: parseConfig({ default: "reject" }), connections: { active: 0, inHello: 0, closed: [] },
 * }).includes("up 1 h"); // true
 * ```
 */
export function statusPageHtml(data: StatusData): string {
  return htmlDocument(
    "alpnmux status",
    <>
      <header>
        <h1>alpnmux status</h1>
        <span class="meta">
          {data.version !== undefined ? `version ${data.version} · ` : ""}up{" "}
          {formatDuration(data.now - data.startedAt)} · as of {formatUtc(new Date(data.now).toISOString())}
        </span>
        <form method="post" action="/logout">
          <button type="submit">Log out</button>
        </form>
      </header>
      <main>
        <Certificates certificates={data.certificates} now={data.now} />
        <Challenges
          challenges={data.challenges}
          now={data.now}
          {...(data.challengesError !== undefined ? { error: data.challengesError } : {})}
        />
        <Routes config={data.config} />
        <Connections
          counts={data.connections}
          {...(data.connectionsError !== undefined ? { error: data.connectionsError } : {})}
        />
      </main>
    </>,
  );
}

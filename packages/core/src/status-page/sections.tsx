/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * The status page's sections (Hono JSX, rendered on the server; every value is escaped by the
 * JSX runtime, nothing goes through `raw`): certificates, challenges in flight, routes and
 * connections.
 *
 * @example
 * ```ts
 * import { Challenges } from "@alpnmux/core/status-page";
 * String(Challenges({ challenges: [], now: 0 })).includes("No challenges in flight"); // true
 * ```
 *
 * @module status-page/sections
 */

import type { AcmeProblemDocument, CertificateStatus } from "../certs/status.ts";
import type { RouterConfig } from "../config.ts";
import type { ConnectionCounts } from "./connection-counts.ts";
import { describeMatch, describeTarget, formatUtc, relativeTime } from "./format.ts";

/** An ISO time as UTC text with "in N days" below it. */
function When(props: { iso: string; now: number }) {
  const t = Date.parse(props.iso);
  return (
    <>
      <time datetime={props.iso}>{formatUtc(props.iso)}</time>
      {Number.isFinite(t) ? <span class="sub">{relativeTime(t, props.now)}</span> : null}
    </>
  );
}

function Problem(props: { problem: AcmeProblemDocument }) {
  const p = props.problem;
  return (
    <li>
      {p.identifier ? <b>{p.identifier.value}: </b> : null}
      <code>{p.type}</code>
      {p.detail !== undefined ? ` ${p.detail}` : ""}
      {p.subproblems?.length ? (
        <ul class="problem">
          {p.subproblems.map((s) => (
            <Problem problem={s} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

function LastResult(props: { result: CertificateStatus["lastResult"]; now: number }) {
  const r = props.result;
  if (r === null) return <span class="muted">no attempt yet</span>;
  return (
    <>
      <span class={`badge ${r.outcome}`}>{r.outcome}</span> <When iso={r.at} now={props.now} />
      {r.message !== undefined ? <span class="sub">{r.message}</span> : null}
      {r.deployExitCode !== undefined ? <span class="sub">deploy exit code {r.deployExitCode}</span> : null}
      {r.problems?.length ? (
        <ul class="problem">
          {r.problems.map((p) => (
            <Problem problem={p} />
          ))}
        </ul>
      ) : null}
    </>
  );
}

/**
 * The certificates table; `null` (no certificate manager) says so.
 *
 * @param props The statuses in config order, or null, and the clock.
 * @returns The section.
 * @example
 * ```ts
 * import { Certificates } from "@alpnmux/core/status-page";
 * String(Certificates({ certificates: null, now: 0 })).includes("No certificates configured"); // true
 * ```
 */
export function Certificates(props: { certificates: readonly CertificateStatus[] | null; now: number }) {
  const list = props.certificates ?? [];
  return (
    <section id="certificates">
      <h2>
        Certificates <span class="count">({list.length})</span>
      </h2>
      {list.length === 0 ? (
        <p class="empty">No certificates configured.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Identifiers</th>
              <th>State</th>
              <th>Expires</th>
              <th>Next renewal</th>
              <th>Last result</th>
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr>
                <td>
                  <b>{c.name}</b>
                  {c.certificate ? <span class="sub mono">serial {c.certificate.serial}</span> : null}
                </td>
                <td>
                  {c.identifiers.map((i) => (
                    <span class="mono line">{i}</span>
                  ))}
                </td>
                <td>
                  <span class={`badge ${c.state}`}>{c.state}</span>
                </td>
                <td>
                  {c.certificate ? (
                    <>
                      <When iso={c.certificate.notAfter} now={props.now} />
                      <span class="sub">by {c.certificate.issuer}</span>
                    </>
                  ) : (
                    <span class="muted">none yet</span>
                  )}
                </td>
                <td>
                  {c.nextRenewal ? (
                    <>
                      <When iso={c.nextRenewal.at} now={props.now} />
                      <span class="sub">{c.nextRenewal.reason}</span>
                    </>
                  ) : (
                    <span class="muted">order running</span>
                  )}
                </td>
                <td>
                  <LastResult result={c.lastResult} now={props.now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * The challenges in flight (identifier and expiry; never the key authorization).
 *
 * @param props The store's entries and the clock.
 * @returns The section.
 * @example
 * ```ts
 * import { Challenges } from "@alpnmux/core/status-page";
 * String(Challenges({ challenges: [{ identifier: "a.example", expiresAt: Infinity }], now: 0 })).includes("never");
 * ```
 */
export function Challenges(props: {
  challenges: readonly { readonly identifier: string; readonly expiresAt: number }[];
  now: number;
  error?: string;
}) {
  return (
    <section id="challenges">
      <h2>
        Challenges in flight <span class="count">({props.challenges.length})</span>
      </h2>
      {props.error !== undefined ? <p class="error">Cannot read the challenge store: {props.error}</p> : null}
      {props.challenges.length === 0 ? (
        <p class="empty">No challenges in flight.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Identifier</th>
              <th>Expires</th>
            </tr>
          </thead>
          <tbody>
            {props.challenges.map((ch) => (
              <tr>
                <td class="mono">{ch.identifier}</td>
                <td>
                  {Number.isFinite(ch.expiresAt) ? (
                    <When iso={new Date(ch.expiresAt).toISOString()} now={props.now} />
                  ) : (
                    <span class="muted">never</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * The route table in force, in the order the router tries it, then the default.
 *
 * @param props The running config.
 * @returns The section.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { Routes } from "@alpnmux/core/status-page";
 * String(Routes({ config: parseConfig({ default: "reject" }) })).includes("reject"); // true
 * ```
 */
export function Routes(props: { config: RouterConfig }) {
  const c = props.config;
  return (
    <section id="routes">
      <h2>
        Routes <span class="count">({c.routes.length} + default)</span>
      </h2>
      <table>
        <thead>
          <tr>
            <th class="num">#</th>
            <th>Name</th>
            <th>Matches</th>
            <th>Target</th>
          </tr>
        </thead>
        <tbody>
          {c.routes.map((r, i) => (
            <tr>
              <td class="num">{i + 1}</td>
              <td>{r.name ?? <span class="muted">route {i + 1}</span>}</td>
              <td class="mono">{describeMatch(r.match)}</td>
              <td class="mono">→ {describeTarget(r.target)}</td>
            </tr>
          ))}
          <tr>
            <td class="num">·</td>
            <td>default</td>
            <td class="muted">anything else</td>
            <td class="mono">→ {describeTarget(c.default)}</td>
          </tr>
        </tbody>
      </table>
      <p class="note">
        Not TLS: {c.onNotTls === "close" ? "closed" : "default route"} · no SNI:{" "}
        {c.onNoSni === "close" ? "closed" : "through the routes"}
      </p>
    </section>
  );
}

/**
 * Connections open now and closed so far, by outcome (with each route's share).
 *
 * @param props The counts.
 * @returns The section.
 * @example
 * ```ts
 * import { connectionCounts, Connections } from "@alpnmux/core/status-page";
 * String(Connections({ counts: connectionCounts("alpnmux_connections_active 3\n") })).includes(">3<"); // true
 * ```
 */
export function Connections(props: { counts: ConnectionCounts; error?: string }) {
  const k = props.counts;
  const total = k.closed.reduce((a, o) => a + o.count, 0);
  return (
    <section id="connections">
      <h2>Connections</h2>
      {props.error !== undefined ? <p class="error">Cannot read the metrics: {props.error}</p> : null}
      <div class="stats">
        <div class="stat">
          open now<b id="connections-active">{k.active}</b>
        </div>
        <div class="stat">
          waiting for a hello<b>{k.inHello}</b>
        </div>
        <div class="stat">
          closed<b id="connections-closed">{total}</b>
        </div>
      </div>
      {k.closed.length === 0 ? (
        <p class="empty">No connection closed yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Outcome</th>
              <th class="num">Closed</th>
              <th>By route</th>
            </tr>
          </thead>
          <tbody>
            {k.closed.map((o) => (
              <tr>
                <td class="mono">{o.outcome}</td>
                <td class="num">{o.count}</td>
                <td class="muted">{o.byRoute.map((r) => `${r.route} ${r.count}`).join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

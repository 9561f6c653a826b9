/**
 * The status page of the admin listener: `GET /` renders certificates, challenges in flight,
 * routes and connection counts as server-side HTML (Hono JSX, no script, no external assets),
 * behind the admin token (bearer header, or a login form that sets a signed session cookie).
 * {@linkcode mountStatusPage} adds it to an admin app; `createAdminApp` does so itself.
 *
 * @example
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { createAdminApp } from "@alpnmux/core/admin-api";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const token = "s3cret-token-0123456789";
 * const app = createAdminApp({ router, challenges: new MemoryChallengeStore(), token });
 * const res = await app.request("/", { headers: { authorization: `Bearer ${token}` } });
 * (await res.text()).includes("Challenges in flight"); // true
 * ```
 *
 * @module status-page
 */

export { type ConnectionCounts, connectionCounts } from "./connection-counts.ts";
export { describeMatch, describeTarget, formatDuration, formatUtc, relativeTime } from "./format.ts";
export { htmlDocument, STYLESHEET_PATH } from "./layout.tsx";
export { type LoginPageOptions, loginPageHtml } from "./login.tsx";
export { type StatusData, statusPageHtml } from "./page.tsx";
export { mountStatusPage, STATUS_PAGE_CSP, type StatusPageOptions } from "./routes.ts";
export { Certificates, Challenges, Connections, Routes } from "./sections.tsx";
export {
  createSessionValue,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  type SessionCheck,
  type SessionOptions,
  verifySessionValue,
} from "./session.ts";
export { STATUS_CSS } from "./style.ts";

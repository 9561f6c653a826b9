/**
 * Mounts the status page on the admin app: `GET /` (the page, or the login form),
 * `POST /login`, `POST /logout` and `GET /status.css`.
 *
 * Auth: `Authorization: Bearer <token>` works as on the API; a browser logs in through the form
 * and gets the session cookie of `status-page/session` (HttpOnly, SameSite=Strict, Path=/,
 * Secure when the request came over HTTPS; the admin API is plain HTTP on loopback by default,
 * where a Secure cookie would never be sent back). The cookie authorises `GET /` only: every
 * `/v1/*` route and `/metrics` still need the bearer header, so no cross-site form can change
 * anything with it (CSRF). The two forms check `Sec-Fetch-Site`/`Origin` as well, so a
 * cross-site page cannot log a browser in or out.
 *
 * Every page is sent with a strict CSP (`default-src 'none'`, styles from `'self'` only, no
 * script at all, no framing), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
 * and `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * import { mountStatusPage } from "@alpnmux/core/status-page";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const token = "s3cret-token-0123456789";
 * const app = new Hono();
 * mountStatusPage(app, {
 *   token, checkToken: async (t) => t === token, challenges: new MemoryChallengeStore(),
 *   config: () => router.config, metricsText: async () => router.metrics.registry.render(),
 * });
 * const res = await app.request("/", { headers: { authorization: `Bearer ${token}` } });
 * console.log(res.status); // 200
 * ```
 *
 * @module status-page/routes
 */

import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { CertificateSource } from "../certs/status.ts";
import type { ChallengeStore } from "../challenge-store.ts";
import type { RouterConfig } from "../config.ts";
import { connectionCounts } from "./connection-counts.ts";
import { STYLESHEET_PATH } from "./layout.tsx";
import { loginPageHtml } from "./login.tsx";
import { type StatusData, statusPageHtml } from "./page.tsx";
import { createSessionValue, SESSION_COOKIE, SESSION_TTL_MS, verifySessionValue } from "./session.ts";
import { STATUS_CSS } from "./style.ts";

/** What {@linkcode mountStatusPage} needs from the admin app. */
export interface StatusPageOptions {
  /** The admin token (keys the session MAC). */
  readonly token: string;
  /** Compares a presented token with the admin token in constant time. */
  readonly checkToken: (presented: string) => Promise<boolean>;
  /** Challenges in flight are listed from it. */
  readonly challenges: ChallengeStore;
  /** The config in force (its route table). */
  readonly config: () => RouterConfig;
  /** The `/metrics` text (the primary's sum over its workers, or the router's own). */
  readonly metricsText: () => Promise<string>;
  /** The certificate manager; if absent, "No certificates configured". */
  readonly certificates?: CertificateSource;
  /** Shown in the header, if given. */
  readonly version?: string;
  /** Clock in epoch milliseconds; if absent, `Date.now`. */
  readonly now?: () => number;
  /** When the process started, for the uptime; if absent, when this was mounted. */
  readonly startedAt?: number;
  /** WebCrypto; if absent, `globalThis.crypto`. */
  readonly crypto?: Crypto;
  /** How long a login lasts; if absent or 0, 12 hours. */
  readonly sessionTtlMs?: number;
}

/** The Content-Security-Policy of every status page response. */
export const STATUS_PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": STATUS_PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
};
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

function send(c: Context, html: string, status: 200 | 401 | 403 = 200, extra: Record<string, string> = {}) {
  return c.html(html, status, { ...SECURITY_HEADERS, ...extra });
}

/** Whether the request came over HTTPS (directly, or as a TLS proxy in front says). */
function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
}

/**
 * A form POST a browser sent from this page: `Sec-Fetch-Site` same-origin (or none: typed by the
 * user), else an `Origin` whose host is this request's. A client that sends neither (curl) is
 * not a browser, so it cannot be a cross-site forgery.
 */
function sameOrigin(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined) return site === "same-origin" || site === "none";
  const origin = c.req.header("origin");
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === (c.req.header("host") ?? new URL(c.req.url).host);
  } catch {
    return false;
  }
}

/**
 * Adds the status page routes to `app`. Mount them before the bearer-token middleware, so that
 * they do their own auth.
 *
 * @param app The admin app.
 * @param options Token, sources of what is shown.
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * import { mountStatusPage } from "@alpnmux/core/status-page";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const app = new Hono();
 * mountStatusPage(app, {
 *   token: "s3cret-token-0123456789", checkToken: async () => false,
 *   challenges: new MemoryChallengeStore(), config: () => router.config, metricsText: async () => "",
 * });
 * (await app.request("/")).status; // 200: the login form
 * ```
 */
export function mountStatusPage(app: Hono, options: StatusPageOptions): void {
  const log = getLogger(["alpnmux", "admin"]);
  const now = options.now ?? Date.now;
  const startedAt = options.startedAt ?? now();
  const crypto = options.crypto ?? globalThis.crypto;
  const ttlMs = options.sessionTtlMs || SESSION_TTL_MS;
  const version = options.version !== undefined ? { version: options.version } : {};
  const cookieOptions = (c: Context) =>
    ({ path: "/", httpOnly: true, sameSite: "Strict", ...(isHttps(c) ? { secure: true } : {}) }) as const;
  const refused = (c: Context) =>
    send(c, loginPageHtml({ ...version, error: "Cross-site request refused." }), 403);

  async function gather(): Promise<StatusData> {
    const [challenges, metrics] = await Promise.all([
      options.challenges.list().catch((e: unknown) => e as Error),
      options.metricsText().catch((e: unknown) => e as Error),
    ]);
    return {
      now: now(),
      startedAt,
      ...version,
      certificates: options.certificates ? options.certificates.list() : null,
      challenges: challenges instanceof Error ? [] : challenges,
      ...(challenges instanceof Error ? { challengesError: challenges.message } : {}),
      config: options.config(),
      connections: connectionCounts(metrics instanceof Error ? "" : metrics),
      ...(metrics instanceof Error ? { connectionsError: metrics.message } : {}),
    };
  }

  app.get(STYLESHEET_PATH, (c) =>
    c.body(STATUS_CSS, 200, {
      "content-type": "text/css; charset=utf-8",
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    }),
  );

  app.get("/", async (c) => {
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const m = BEARER.exec(header);
      if (m !== null && (await options.checkToken(m[1] as string)))
        return send(c, statusPageHtml(await gather()));
      return send(c, loginPageHtml({ ...version, error: "The bearer token is not valid." }), 401, {
        "www-authenticate": 'Bearer realm="alpnmux", error="invalid_token"',
      });
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie === undefined) return send(c, loginPageHtml(version));
    const check = await verifySessionValue(options.token, cookie, { now: now(), crypto });
    if (check === "valid") return send(c, statusPageHtml(await gather()));
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
    const notice = check === "expired" ? "Your session has expired." : "Your session is not valid.";
    return send(c, loginPageHtml({ ...version, notice: `${notice} Log in again.` }));
  });

  app.post(
    "/login",
    bodyLimit({ maxSize: 4096, onError: (c) => c.text("Request body too large", 413) }),
    async (c) => {
      if (!sameOrigin(c)) return refused(c);
      let presented: unknown;
      try {
        presented = (await c.req.parseBody())["token"];
      } catch {
        presented = undefined;
      }
      if (typeof presented !== "string" || !(await options.checkToken(presented))) {
        log.warn("status page login refused: {reason}", {
          reason: typeof presented === "string" ? "wrong token" : "no token field",
          userAgent: c.req.header("user-agent") ?? null,
        });
        return send(c, loginPageHtml({ ...version, error: "The token is not valid." }), 401, {
          "www-authenticate": 'Bearer realm="alpnmux"',
        });
      }
      const value = await createSessionValue(options.token, { now: now(), ttlMs, crypto });
      setCookie(c, SESSION_COOKIE, value, { ...cookieOptions(c), maxAge: Math.floor(ttlMs / 1000) });
      log.info("status page login", { userAgent: c.req.header("user-agent") ?? null });
      c.header("cache-control", "no-store");
      return c.redirect("/", 303);
    },
  );

  app.post("/logout", (c) => {
    if (!sameOrigin(c)) return refused(c);
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
    c.header("cache-control", "no-store");
    return c.redirect("/", 303);
  });
}

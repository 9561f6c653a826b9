/**
 * The admin HTTP API: a Hono app (runtime-agnostic; each adapter serves `app.fetch`) that lets
 * an ACME client publish TLS-ALPN-01 key authorizations, swaps the route table at run time,
 * and exposes health and Prometheus metrics.
 *
 * | Method and path | Auth | Does |
 * |---|---|---|
 * | `GET /healthz` | none | `{ status: "ok", active, inHello, version? }` |
 * | `GET /` | bearer or session cookie | the status page (HTML); without either, the login form (see `status-page`) |
 * | `POST /login`, `POST /logout` | form | log in with the token (sets the session cookie), log out |
 * | `PUT /v1/challenges/:identifier` | bearer | store `{ value, ttlSeconds? }` (or `{ keyAuthorization, ttlSeconds? }`, or a `text/plain` value) |
 * | `DELETE /v1/challenges/:identifier` | bearer | remove it: 200 `{ deleted: true }`, or 404 |
 * | `GET /v1/challenges` | bearer | `{ challenges: [{ identifier, expiresAt }] }` (no key authorizations) |
 * | `GET /v1/routes` | bearer | the route table as input: `{ routes, default, onNotTls, onNoSni }` |
 * | `PUT /v1/routes` | bearer | check and swap in a new route table (other config fields stay) |
 * | `GET /v1/certificates` | bearer | `{ certificates: CertificateStatus[] }` (empty without `certificates:`) |
 * | `GET /v1/certificates/:name` | bearer | one `CertificateStatus`, or 404 `certificate-not-found` |
 * | `POST /v1/certificates/:name/renew` | bearer | 202 with the status: an order starts now; while one runs, no second one starts (still 202, state `renewing`) |
 * | `GET /metrics` | bearer | Prometheus text format 0.0.4 |
 *
 * Errors are JSON `{ error: { code, message, path?, issues? } }`; `expiresAt` is an ISO 8601
 * time, or `null` when the challenge never expires.
 *
 * A challenge `value` is what the ACME client's hook holds: the key authorization
 * `token.thumbprint` (lego, acme.sh), the base64url SHA-256 digest of it (43 characters, uacme)
 * or the hex digest with colons (dehydrated); see `parseChallengeValue()`. Anything else is 400
 * `invalid-challenge-value`. `keyAuthorization`, the older field, still takes a key
 * authorization only (400 `invalid-key-authorization` otherwise); give one of the two.
 *
 * @example Answer a request in memory (a runtime adapter passes `app.fetch` to its HTTP server)
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { createAdminApp } from "@alpnmux/core/admin-api";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const app = createAdminApp({ router, challenges: new MemoryChallengeStore(), token: "s3cret-token-0123456789" });
 * const res = await app.fetch(new Request("http://127.0.0.1:9180/healthz"));
 * console.log(res.status); // 200
 * ```
 *
 * @module admin-api
 */

import { getLogger } from "@logtape/logtape";
import type { Context } from "hono";
import { Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { formatHostPort } from "./address.ts";
import { adminTokenProblem } from "./admin-settings.ts";
import type { CertificateSource, CertificateStatus } from "./certs/status.ts";
import type { ChallengeStore } from "./challenge-store.ts";
import {
  type ChallengeValue,
  ChallengeValueError,
  KEY_AUTHORIZATION_PATTERN,
  MAX_KEY_AUTHORIZATION_LENGTH,
  parseChallengeValue,
} from "./challenge-value.ts";
import {
  ConfigError,
  type ConfigIssue,
  parseConfig,
  type RouterConfig,
  type TargetConfig,
} from "./config.ts";
import { parseReverseIpName } from "./hostname.ts";
import { formatIp, parseIp } from "./ip.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import type { Router } from "./router.ts";
import { mountStatusPage } from "./status-page/routes.ts";

/** Stable codes of admin API errors (the `error.code` of a JSON error body). */
export type AdminErrorCode =
  | "unauthorized"
  | "not-found"
  | "challenge-not-found"
  | "certificate-not-found"
  | "bad-json"
  | "bad-request"
  | "invalid-identifier"
  | "invalid-key-authorization"
  | "invalid-challenge-value"
  | "invalid-ttl"
  | "invalid-config"
  | "payload-too-large"
  | "invalid-options"
  | "internal";

/**
 * An admin request that cannot be honoured, with the HTTP status it maps to. Handlers throw
 * it; the app turns it into `{ error: { code, message, path?, issues? } }`.
 *
 * @example
 * ```ts
 * import { AdminApiError, normalizeChallengeIdentifier } from "@alpnmux/core/admin-api";
 * try { normalizeChallengeIdentifier("*.example.com"); }
 * catch (e) { if (e instanceof AdminApiError) console.log(e.status, e.code); } // 400 "invalid-identifier"
 * ```
 */
export class AdminApiError extends Error {
  /** Stable code. */
  readonly code: AdminErrorCode;
  /** HTTP status. */
  readonly status: 400 | 401 | 404 | 413 | 500;
  /** The request field at fault (e.g. `keyAuthorization`), if one. */
  readonly path: string | undefined;
  /** Config problems, for `invalid-config`. */
  readonly issues: readonly ConfigIssue[] | undefined;
  /**
   * @param code Stable code.
   * @param status HTTP status.
   * @param message Human-readable reason.
   * @param extra The field at fault and config issues, if any.
   */
  constructor(
    code: AdminErrorCode,
    status: 400 | 401 | 404 | 413 | 500,
    message: string,
    extra: { path?: string; issues?: readonly ConfigIssue[] } = {},
  ) {
    super(message);
    this.name = "AdminApiError";
    this.code = code;
    this.status = status;
    this.path = extra.path;
    this.issues = extra.issues;
  }
}

/** Options of {@linkcode createAdminApp}. */
export interface AdminAppOptions {
  /** The running router: its table is read and swapped, its metrics rendered. */
  readonly router: Router;
  /** Where challenges are stored (the responder reads the same store). */
  readonly challenges: ChallengeStore;
  /** The bearer token every route but `/healthz` requires (see {@linkcode adminTokenProblem}). */
  readonly token: string;
  /** Shown by `/healthz`; if absent, left out. */
  readonly version?: string;
  /** Clock in epoch milliseconds, for `expiresAt` when the store does not say; if absent, `Date.now`. */
  readonly now?: () => number;
  /** WebCrypto used to hash tokens; if absent, `globalThis.crypto`. */
  readonly crypto?: Crypto;
  /** Largest request body in bytes; if 0 or absent, 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Called after `PUT /v1/routes` applied a table (the primary of `workers: N` pushes it on). */
  readonly onRoutes?: (config: RouterConfig) => void;
  /** The `/metrics` text; if absent, the router's registry (the primary sums its workers'). */
  readonly metricsText?: () => Promise<string>;
  /** The certificate manager (`GET /v1/certificates`, the status page); if absent, none is configured. */
  readonly certificates?: CertificateSource;
}

/** The longest `ttlSeconds` accepted: 7 days (ACME authorizations rarely live longer). */
export const MAX_CHALLENGE_TTL_SECONDS = 7 * 24 * 3600;

const LDH_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const TABLE_KEYS = ["routes", "default", "onNotTls", "onNoSni"] as const;

/**
 * Checks and normalises an ACME identifier from a request: an IPv4 or IPv6 literal (brackets
 * allowed) becomes its canonical text; a DNS name is lower-cased (a final dot dropped) and must
 * be LDH labels, at most 253 characters, and not a wildcard (RFC 8737, Section 3).
 *
 * @param identifier The identifier as given.
 * @returns The normalised identifier.
 * @throws {AdminApiError} `invalid-identifier` (status 400) naming the reason.
 * @example
 * ```ts
 * import { normalizeChallengeIdentifier } from "@alpnmux/core/admin-api";
 * normalizeChallengeIdentifier("WWW.Example.com"); // "www.example.com"
 * normalizeChallengeIdentifier("[2001:DB8::0:1]"); // "2001:db8::1"
 * ```
 */
export function normalizeChallengeIdentifier(identifier: string): string {
  const bad = (why: string) =>
    new AdminApiError("invalid-identifier", 400, `Invalid identifier ${JSON.stringify(identifier)}: ${why}`, {
      path: "identifier",
    });
  const bare = identifier.startsWith("[") && identifier.endsWith("]") ? identifier.slice(1, -1) : identifier;
  const ip = parseIp(bare);
  if (ip !== null) return formatIp(ip.bytes);
  let name = identifier.toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "") throw bad("it is empty");
  if (name.includes("*")) throw bad("wildcard names cannot be validated with TLS-ALPN-01");
  if (name.length > 253) throw bad(`${name.length} characters, more than 253`);
  if (!name.split(".").every((l) => LDH_LABEL.test(l))) {
    throw bad("not an IP address or a host name of letters, digits and hyphens");
  }
  // RFC 8738: the validator sends the reverse-DNS name as SNI, but the identifier is the IP.
  const reversed = parseReverseIpName(name);
  if (reversed !== null) return reversed;
  if (/^\d+$/.test(name.slice(name.lastIndexOf(".") + 1))) {
    throw bad("the last label is all digits: neither an IP address nor a host name");
  }
  return name;
}

/**
 * Checks a key authorization: `token.thumbprint`, both base64url (RFC 8555, Section 8.1).
 *
 * @param keyAuthorization The value as given.
 * @returns The value, unchanged.
 * @throws {AdminApiError} `invalid-key-authorization` (status 400).
 * @example
 * ```ts
 * import { checkKeyAuthorization } from "@alpnmux/core/admin-api";
 * checkKeyAuthorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ");
 * ```
 */
export function checkKeyAuthorization(keyAuthorization: unknown): string {
  const bad = (why: string) =>
    new AdminApiError("invalid-key-authorization", 400, `Invalid keyAuthorization: ${why}`, {
      path: "keyAuthorization",
    });
  if (typeof keyAuthorization !== "string") throw bad("expected a string");
  if (keyAuthorization === "") throw bad("it is empty");
  if (keyAuthorization.length > MAX_KEY_AUTHORIZATION_LENGTH) {
    throw bad(`longer than ${MAX_KEY_AUTHORIZATION_LENGTH} characters`);
  }
  if (!KEY_AUTHORIZATION_PATTERN.test(keyAuthorization)) {
    throw bad('expected "token.thumbprint", both base64url (A-Z, a-z, 0-9, "-", "_")');
  }
  return keyAuthorization;
}

/**
 * The challenge value of a `PUT /v1/challenges/:identifier` body: `value` in any of the three
 * forms, or the older `keyAuthorization` (a key authorization only). Neither field is the older
 * API's error (`invalid-key-authorization`, path `keyAuthorization`).
 *
 * @param body The parsed body.
 * @returns The checked value, in the form the store keeps.
 * @throws {AdminApiError} `invalid-challenge-value` (path `value`), `invalid-key-authorization`
 *   (path `keyAuthorization`), or `bad-request` when both fields are given.
 * @example
 * ```ts
 * import { challengeValueOfBody } from "@alpnmux/core/admin-api";
 * challengeValueOfBody({ value: "b1:80:30:56:ba:83:b5:53:ae:25:9b:c0:1e:ea:d2:01:83:e8:12:de:5f:15:5f:c2:e1:b7:52:38:e5:be:a3:96" });
 * // { format: "digest-hex", stored: "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y" }
 * ```
 */
export function challengeValueOfBody(body: Readonly<Record<string, unknown>>): ChallengeValue {
  if (body.value === undefined) {
    return { format: "key-authorization", stored: checkKeyAuthorization(body.keyAuthorization) };
  }
  if (body.keyAuthorization !== undefined) {
    throw new AdminApiError("bad-request", 400, "Give value or keyAuthorization, not both", {
      path: "value",
    });
  }
  try {
    return parseChallengeValue(body.value);
  } catch (e) {
    if (!(e instanceof ChallengeValueError)) throw e;
    throw new AdminApiError("invalid-challenge-value", 400, e.message, { path: "value" });
  }
}

/**
 * The route table of a checked config in input form, as `GET /v1/routes` shows it: upstreams
 * as `"host:port"` strings, durations in milliseconds.
 *
 * @param config A checked config.
 * @returns `{ routes, default, onNotTls, onNoSni }`, JSON-serialisable and accepted by `parseConfig`.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * import { routeTableDocument } from "@alpnmux/core/admin-api";
 * routeTableDocument(parseConfig({ default: { upstream: "127.0.0.1:8443" } })).default;
 * // { upstream: "127.0.0.1:8443", proxy: "none", tlvs: [] }
 * ```
 */
export function routeTableDocument(config: RouterConfig): RouteTableDocument {
  return {
    routes: config.routes.map((r) => ({
      ...(r.name !== undefined ? { name: r.name } : {}),
      match: { ...r.match },
      target: targetInput(r.target),
    })),
    default: targetInput(config.default),
    onNotTls: config.onNotTls,
    onNoSni: config.onNoSni,
  };
}

/** The route table as `GET`/`PUT /v1/routes` exchange it. */
export interface RouteTableDocument {
  readonly routes: unknown;
  readonly default: unknown;
  readonly onNotTls: RouterConfig["onNotTls"];
  readonly onNoSni: RouterConfig["onNoSni"];
}

function targetInput(t: TargetConfig | RouterConfig["default"]): unknown {
  if (t === "reject") return t;
  if ("acme" in t) {
    return {
      acme: t.acme,
      fallback: t.fallback === "reject" ? t.fallback : { upstream: formatHostPort(t.fallback.upstream) },
    };
  }
  const { upstream, connectTimeout, ...rest } = t;
  return {
    upstream: formatHostPort(upstream),
    ...rest,
    tlvs: [...rest.tlvs],
    ...(connectTimeout !== undefined ? { connectTimeout } : {}),
  };
}

/** A whole checked config back in input form, so it can be merged and parsed again. */
function configInput(c: RouterConfig): Record<string, unknown> {
  const { admin, ...rest } = c;
  return {
    ...rest,
    listen: c.listen.map(formatHostPort),
    ...routeTableDocument(c),
    ...(admin
      ? {
          admin: {
            ...admin,
            ...(admin.listen !== undefined ? { listen: formatHostPort(admin.listen) } : {}),
          },
        }
      : {}),
  };
}

/**
 * Merges a `PUT /v1/routes` body into the running config and checks the result: the body
 * replaces `routes` and `default`; `onNotTls`/`onNoSni` keep their values when omitted; other
 * fields cannot be set here. Every problem, a bad SNI pattern included, is a ConfigError with
 * its path (the schema compiles host patterns).
 */
function mergeRouteTable(current: RouterConfig, body: unknown): RouterConfig {
  const fail = (issues: ConfigIssue[]) => new ConfigError("invalid-config", issues, "route table");
  if (!isObject(body))
    throw fail([{ path: "", message: "expected an object { routes, default, onNotTls?, onNoSni? }" }]);
  const extra = Object.keys(body).filter((k) => !(TABLE_KEYS as readonly string[]).includes(k));
  if (extra.length) {
    const message = "cannot be changed through the admin API (only routes, default, onNotTls, onNoSni)";
    throw fail(extra.map((path) => ({ path, message })));
  }
  return parseConfig(
    {
      ...configInput(current),
      routes: body.routes,
      default: body.default,
      onNotTls: body.onNotTls ?? current.onNotTls,
      onNoSni: body.onNoSni ?? current.onNoSni,
    },
    "route table",
  );
}

async function sha256(crypto: Crypto, text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Compares two strings in time that depends only on their digest length: both are hashed with
 * SHA-256 and every byte of the digests is XORed into one accumulator, with no early exit.
 *
 * @param a One string (e.g. the token presented).
 * @param b The other (e.g. the expected token).
 * @param crypto WebCrypto; if absent, `globalThis.crypto`.
 * @returns `true` when the strings are equal.
 * @example
 * ```ts
 * import { timingSafeEqualStrings } from "@alpnmux/core/admin-api";
 * await timingSafeEqualStrings("a", "a"); // true
 * ```
 */
export async function timingSafeEqualStrings(
  a: string,
  b: string,
  crypto: Crypto = globalThis.crypto,
): Promise<boolean> {
  const [da, db] = await Promise.all([sha256(crypto, a), sha256(crypto, b)]);
  let diff = da.length ^ db.length;
  for (let i = 0; i < da.length; i++) diff |= (da[i] as number) ^ (db[i] as number);
  return diff === 0;
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AdminApiError(
      "bad-json",
      400,
      `Cannot parse request body as JSON: ${e instanceof Error ? e.message : e}`,
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errorBody(e: AdminApiError) {
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(e.path !== undefined ? { path: e.path } : {}),
      ...(e.issues !== undefined ? { issues: e.issues } : {}),
    },
  };
}

/**
 * Creates the admin API app. Serve it with the runtime's HTTP server, bound to loopback or a
 * private address; every route but `/healthz` needs `Authorization: Bearer <token>`.
 *
 * @param options Router, challenge store, token, version, clock.
 * @returns A Hono app; use `app.fetch` (or `app.request` in tests).
 * @throws {AdminApiError} `invalid-options` when {@linkcode adminTokenProblem} refuses the token
 *   (too short, or characters a bearer token cannot carry).
 * @example
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { createAdminApp } from "@alpnmux/core/admin-api";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const app = createAdminApp({ router, challenges: new MemoryChallengeStore(), token: "t0ken-t0ken-t0ken" });
 * const res = await app.request("/v1/challenges/a.example.test", {
 *   method: "PUT",
 *   headers: { authorization: "Bearer t0ken-t0ken-t0ken", "content-type": "application/json" },
 *   body: JSON.stringify({ value: "token.thumbprint", ttlSeconds: 600 }),
 * });
 * await res.json(); // { identifier: "a.example.test", expiresAt: "…" }
 * // value may also be uacme's base64url digest or dehydrated's colon-separated hex digest
 * ```
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { router, challenges } = options;
  const problem = typeof options.token !== "string" ? "must be a string" : adminTokenProblem(options.token);
  if (problem !== null) {
    throw new AdminApiError("invalid-options", 500, `Cannot create admin API: the token ${problem}`);
  }
  const token = options.token;
  const crypto = options.crypto ?? globalThis.crypto;
  const now = options.now ?? Date.now;
  const log = getLogger(["alpnmux", "admin"]);
  /** The document of the last accepted PUT, while its config is the one in force. */
  let accepted: { config: RouterConfig; doc: RouteTableDocument } | null = null;
  const currentTable = (): RouteTableDocument =>
    accepted !== null && accepted.config === router.config ? accepted.doc : routeTableDocument(router.config);

  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof AdminApiError) return c.json(errorBody(err), err.status);
    // bearerAuth's refusals carry their own response (JSON body and WWW-Authenticate).
    if (err instanceof HTTPException && err.res) return err.getResponse();
    if (err instanceof HTTPException) {
      const code =
        err.status === 413 ? "payload-too-large" : err.status === 401 ? "unauthorized" : "bad-request";
      return c.json({ error: { code, message: err.message || `HTTP ${err.status}` } }, err.status);
    }
    if (err instanceof Error && err.name === "ChallengeCertError" && "code" in err) {
      return c.json({ error: { code: String(err.code), message: err.message } }, 400);
    }
    log.error("admin request {method} {path} failed: {error}", {
      method: c.req.method,
      path: c.req.path,
      error: err,
    });
    return c.json({ error: { code: "internal", message: "Internal error" } }, 500);
  });
  app.notFound((c) =>
    c.json({ error: { code: "not-found", message: `No such endpoint: ${c.req.method} ${c.req.path}` } }, 404),
  );

  app.get("/healthz", (c) =>
    c.json({
      status: "ok",
      active: router.active,
      inHello: router.inHello,
      ...(options.version !== undefined ? { version: options.version } : {}),
    }),
  );

  // The status page does its own auth (bearer header or session cookie), so it goes before the
  // bearer middleware; the cookie it sets is good for `GET /` only, never for the API below.
  mountStatusPage(app, {
    token,
    checkToken: (presented) => timingSafeEqualStrings(presented, token, crypto),
    challenges,
    config: () => router.config,
    metricsText: options.metricsText ?? (async () => router.metrics.registry.render()),
    now,
    crypto,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options.certificates !== undefined ? { certificates: options.certificates } : {}),
  });

  // Every refusal is 401 with the JSON error body, a malformed header (another scheme, no
  // token, extra words) included: bearerAuth would answer that one 400.
  const refuse = (message: string) => (c: Context) =>
    c.json({ error: { code: "unauthorized" satisfies AdminErrorCode, message } }, 401);
  const required = refuse("Authorization: Bearer <token> is required");
  app.use(
    "*",
    bearerAuth({
      realm: "alpnmux",
      verifyToken: (presented) => timingSafeEqualStrings(presented, token, crypto),
      noAuthenticationHeader: { message: required },
      invalidAuthenticationHeader: { message: required, wwwAuthenticateHeader: 'Bearer realm="alpnmux"' },
      invalidToken: {
        message: refuse("The bearer token is not valid"),
        wwwAuthenticateHeader: 'Bearer realm="alpnmux", error="invalid_token"',
      },
    }),
  );
  // Only PUT handlers read a body. On other methods Deno gives even a body-less request an
  // empty body stream, which bodyLimit would read and rebuild the request from (Deno then prints
  // its "request.signal aborts on successful responses" notice on the first DELETE).
  app.on(
    "PUT",
    "*",
    bodyLimit({
      maxSize: options.maxBodyBytes || 1 << 20,
      onError: () => {
        throw new AdminApiError(
          "payload-too-large",
          413,
          `Request body is larger than ${options.maxBodyBytes || 1 << 20} bytes`,
        );
      },
    }),
  );

  app.put("/v1/challenges/:identifier", async (c) => {
    const identifier = normalizeChallengeIdentifier(c.req.param("identifier"));
    const plain = (c.req.header("content-type") ?? "").toLowerCase().startsWith("text/plain");
    const body = plain
      ? { value: (await c.req.text()).trim(), ttlSeconds: c.req.query("ttlSeconds") }
      : await readJson(c);
    if (!isObject(body)) {
      throw new AdminApiError(
        "bad-request",
        400,
        "Expected a JSON object { keyAuthorization, ttlSeconds? } or { value, ttlSeconds? }",
      );
    }
    const value = challengeValueOfBody(body);
    let ttl = body.ttlSeconds;
    if (typeof ttl === "string" && plain) ttl = Number(ttl);
    if (ttl !== undefined && (typeof ttl !== "number" || !(ttl > 0) || ttl > MAX_CHALLENGE_TTL_SECONDS)) {
      throw new AdminApiError(
        "invalid-ttl",
        400,
        `Invalid ttlSeconds: expected a number of seconds in (0, ${MAX_CHALLENGE_TTL_SECONDS}]`,
        {
          path: "ttlSeconds",
        },
      );
    }
    // Round up, at least 1 ms: 0 would mean "never expires" in the store.
    const ttlMs = ttl === undefined ? undefined : Math.max(1, Math.ceil(ttl * 1000));
    const existed = (await challenges.get(identifier)) !== undefined;
    const setAt = now();
    await challenges.set(identifier, value.stored, ttlMs);
    const expires =
      (await challenges.get(identifier))?.expiresAt ?? (ttlMs === undefined ? Infinity : setAt + ttlMs);
    return c.json({ identifier, expiresAt: isoOrNull(expires) }, existed ? 200 : 201);
  });

  app.delete("/v1/challenges/:identifier", async (c) => {
    const identifier = normalizeChallengeIdentifier(c.req.param("identifier"));
    if (!(await challenges.delete(identifier))) {
      throw new AdminApiError("challenge-not-found", 404, `No challenge is stored for ${identifier}`, {
        path: "identifier",
      });
    }
    return c.json({ deleted: true });
  });

  app.get("/v1/challenges", async (c) => {
    const list = await challenges.list();
    return c.json({
      challenges: list.map((e) => ({ identifier: e.identifier, expiresAt: isoOrNull(e.expiresAt) })),
    });
  });

  app.get("/v1/routes", (c) => c.json(currentTable()));

  app.put("/v1/routes", async (c) => {
    const body = await readJson(c);
    let config: RouterConfig;
    try {
      config = mergeRouteTable(router.config, body);
      router.setConfig(config);
    } catch (e) {
      if (!(e instanceof Error && "code" in e)) throw e;
      router.metrics.configReloads.labels({ result: "error" }).inc();
      const issues = e instanceof ConfigError ? e.issues : [{ path: "", message: e.message }];
      throw new AdminApiError("invalid-config", 400, e.message, { issues });
    }
    const table = body as Record<string, unknown>;
    const doc: RouteTableDocument = {
      routes: table.routes ?? [],
      default: table.default,
      onNotTls: config.onNotTls,
      onNoSni: config.onNoSni,
    };
    accepted = { config, doc };
    options.onRoutes?.(config);
    log.info("route table replaced: {routes}", { routes: router.table.routeNames });
    return c.json(doc);
  });

  const certificates = options.certificates;
  const unknownCertificate = (name: string) =>
    new AdminApiError(
      "certificate-not-found",
      404,
      `No certificate is configured with name ${JSON.stringify(name)}`,
      {
        path: "name",
      },
    );
  app.get("/v1/certificates", (c) => c.json({ certificates: certificates?.list() ?? [] }));
  app.get("/v1/certificates/:name", (c) => {
    const name = c.req.param("name");
    const found = certificates?.list().find((s) => s.name === name);
    if (!found) throw unknownCertificate(name);
    return c.json(found);
  });
  app.post("/v1/certificates/:name/renew", async (c) => {
    const name = c.req.param("name");
    if (!certificates?.list().some((s) => s.name === name)) throw unknownCertificate(name);
    let status: CertificateStatus;
    try {
      status = await certificates.renew(name);
    } catch (e) {
      if (e instanceof RangeError) throw unknownCertificate(name);
      throw e;
    }
    log.info("certificate {name}: renewal asked through the admin API", { name });
    return c.json(status, 202);
  });

  app.get("/metrics", async (c) =>
    c.body(options.metricsText ? await options.metricsText() : router.metrics.registry.render(), 200, {
      "content-type": PROMETHEUS_CONTENT_TYPE,
    }),
  );

  return app;
}

function isoOrNull(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

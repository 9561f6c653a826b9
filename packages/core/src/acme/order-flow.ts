/**
 * One certificate order (RFC 8555, Section 7.4): newOrder (with draft-ietf-acme-profiles'
 * `profile` and RFC 9773's `replaces`), each authorization's `tls-alpn-01` challenge (RFC
 * 8737) answered through the caller's solver, authorization polling, finalization, order
 * polling and the certificate download. Bounded in time, abortable, and the solver's
 * `cleanup` runs for every challenge it was asked to present, whatever happens.
 *
 * {@linkcode AcmeClient.order} is the public entry; this file is its engine.
 *
 * @example
 * ```ts
 * import { pollDelay } from "@alpnmux/core/acme";
 * pollDelay(undefined); // 1000 (no Retry-After)
 * pollDelay(60_000); // 10000 (capped)
 * ```
 *
 * @module acme/order-flow
 */

import type { AcmeProblemDocument } from "../certs/status.ts";
import { encodeBase64Url } from "./base64url.ts";
import { AcmeError, describeProblem } from "./errors.ts";
import { type AcmeHttp, type AcmeResponse, jsonObject } from "./http.ts";
import { normalizeOrderIdentifiers } from "./identifiers.ts";
import { Run } from "./order-run.ts";
import {
  type AcmeAuthorization,
  type AcmeDirectory,
  type AcmeIdentifier,
  type AcmeOrder,
  parseAuthorization,
  parseOrder,
} from "./resources.ts";

/** Poll delay without `Retry-After`: 1 s. */
export const DEFAULT_POLL_MS = 1000;
/** Longest poll delay, whatever `Retry-After` says: 10 s. */
export const MAX_POLL_MS = 10_000;

const ERR = "urn:ietf:params:acme:error:";

/** Sets the key authorization for a challenge where the validator will look (B1's challenge store). */
export interface TlsAlpnSolver {
  present(identifier: AcmeIdentifier, keyAuthorization: string): Promise<void>;
  cleanup(identifier: AcmeIdentifier, keyAuthorization: string): Promise<void>;
}

/** What to order. */
export interface OrderRequest {
  readonly identifiers: readonly AcmeIdentifier[];
  /** The CSR, DER (see `createCsr`). */
  readonly csr: Uint8Array;
  /** A profile name from the directory's `meta.profiles`. */
  readonly profile?: string | undefined;
  /** The ARI certificate identifier of the certificate being renewed (RFC 9773, Section 5). */
  readonly replaces?: string | undefined;
  readonly solver: TlsAlpnSolver;
  readonly signal?: AbortSignal | undefined;
  /** Called when `solver.cleanup` throws (the order's own result is kept). */
  readonly onCleanupError?: ((identifier: AcmeIdentifier, error: unknown) => void) | undefined;
}

/** The result of an order. */
export interface IssuedCertificate {
  /** The full chain, leaf first, as the CA sent it. */
  readonly pem: string;
  readonly orderUrl: string;
  /** Whether the order carried `replaces` and the CA accepted it. */
  readonly replaced: boolean;
}

/** What the order engine needs from the client. */
export interface OrderContext {
  readonly http: AcmeHttp;
  readonly directory: () => Promise<AcmeDirectory>;
  readonly account: () => Promise<string>;
  readonly keyAuthorization: (token: string) => Promise<string>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly timeoutMs: number;
}

/**
 * How long to wait before polling again.
 *
 * @param retryAfterMs The server's `Retry-After`, if any.
 * @returns 1 s without one, else `Retry-After` capped at 10 s.
 * @example
 * ```ts
 * import { pollDelay } from "@alpnmux/core/acme";
 * pollDelay(3000); // 3000
 * ```
 */
export function pollDelay(retryAfterMs: number | undefined): number {
  return retryAfterMs === undefined ? DEFAULT_POLL_MS : Math.min(Math.max(retryAfterMs, 0), MAX_POLL_MS);
}

/** The problem of an authorization that is not valid, its identifier set. */
function authorizationProblem(a: AcmeAuthorization): AcmeProblemDocument {
  const ch =
    a.challenges.find((c) => c.type === "tls-alpn-01" && c.error) ?? a.challenges.find((c) => c.error);
  const problem = ch?.error ?? { type: "about:blank", detail: `the authorization is ${a.status}` };
  return { ...problem, identifier: a.identifier };
}

/**
 * Runs one order to its certificate.
 *
 * @param ctx The client's parts.
 * @param request What to order.
 * @returns The certificate chain and the order URL.
 * @throws {AcmeError} See {@linkcode AcmeErrorCode}.
 */
export async function runOrder(ctx: OrderContext, request: OrderRequest): Promise<IssuedCertificate> {
  const identifiers = normalizeOrderIdentifiers(request.identifiers);
  const run = new Run(ctx, request.signal);
  const presented: { identifier: AcmeIdentifier; keyAuthorization: string }[] = [];
  try {
    run.throwIfAborted();
    const directory = await run.guard(ctx.directory());
    checkProfile(directory, request.profile);
    const kid = await run.guard(ctx.account());
    const base = { identifiers, ...(request.profile !== undefined ? { profile: request.profile } : {}) };
    const withReplaces = request.replaces !== undefined && directory.renewalInfo !== undefined;
    let replaced = withReplaces;
    let res: AcmeResponse;
    try {
      res = await run.post(
        directory.newOrder,
        withReplaces ? { ...base, replaces: request.replaces } : base,
        kid,
      );
    } catch (e) {
      if (!(withReplaces && e instanceof AcmeError && e.problem?.type === `${ERR}alreadyReplaced`)) throw e;
      replaced = false;
      res = await run.post(directory.newOrder, base, kid);
    }
    const orderUrl = res.headers.get("location");
    if (orderUrl === null || !URL.canParse(orderUrl, res.url)) {
      throw new AcmeError(
        "bad-response",
        `POST ${directory.newOrder} answered ${res.status} without a Location header`,
      );
    }
    let order = parseOrder(jsonObject(res, "order"), orderUrl);
    if (order.status === "pending") {
      await authorize(run, kid, order, request, presented);
      order = await pollOrder(run, kid, orderUrl, (o) => o.status !== "pending");
    }
    if (order.status === "ready") {
      const fin = await run.post(order.finalize, { csr: encodeBase64Url(request.csr) }, kid);
      order = parseOrder(jsonObject(fin, "order"), order.finalize);
    }
    if (order.status === "processing" || order.status === "ready") {
      order = await pollOrder(run, kid, orderUrl, (o) => o.status === "valid" || o.status === "invalid");
    }
    if (order.status !== "valid") {
      const why = order.error ? describeProblem(order.error) : `status ${order.status}`;
      throw new AcmeError("order-failed", `order ${orderUrl} failed: ${why}`, { problem: order.error });
    }
    if (order.certificate === undefined) {
      throw new AcmeError(
        "bad-response",
        `Cannot parse the order from ${orderUrl}: valid without "certificate"`,
      );
    }
    const cert = await run.post(order.certificate, "", kid, "application/pem-certificate-chain");
    if (!cert.body.includes("-----BEGIN CERTIFICATE-----")) {
      throw new AcmeError(
        "bad-response",
        `Cannot parse the certificate from ${order.certificate}: no PEM certificate`,
      );
    }
    return { pem: cert.body, orderUrl, replaced };
  } catch (e) {
    throw run.translate(e);
  } finally {
    run.close();
    for (const p of presented) {
      try {
        await request.solver.cleanup(p.identifier, p.keyAuthorization);
      } catch (e) {
        request.onCleanupError?.(p.identifier, e);
      }
    }
  }
}

function checkProfile(directory: AcmeDirectory, profile: string | undefined): void {
  if (profile === undefined) return;
  const offered = directory.meta?.profiles;
  if (offered === undefined) {
    throw new AcmeError(
      "unknown-profile",
      `profile "${profile}" cannot be requested: the CA advertises no profiles`,
    );
  }
  if (!Object.hasOwn(offered, profile)) {
    const names = Object.keys(offered);
    throw new AcmeError(
      "unknown-profile",
      `profile "${profile}" is not offered by the CA; it offers ${names.length > 0 ? names.join(", ") : "none"}`,
    );
  }
}

/** Answers each pending authorization's tls-alpn-01 challenge and polls them all to the end. */
async function authorize(
  run: Run<OrderContext>,
  kid: string,
  order: AcmeOrder,
  request: OrderRequest,
  presented: { identifier: AcmeIdentifier; keyAuthorization: string }[],
): Promise<void> {
  const failed: AcmeProblemDocument[] = [];
  const polling: string[] = [];
  let delay: number | undefined;
  for (const url of order.authorizations) {
    const a = parseAuthorization(jsonObject(await run.post(url, "", kid), "authorization"), url);
    if (a.status === "valid") continue;
    if (a.status !== "pending") {
      failed.push(authorizationProblem(a));
      continue;
    }
    const ch = a.challenges.find((c) => c.type === "tls-alpn-01");
    if (ch === undefined) {
      const offered = a.challenges.map((c) => c.type).join(", ") || "none";
      throw new AcmeError(
        "no-tls-alpn-challenge",
        `the CA offers no tls-alpn-01 challenge for ${a.identifier.value} (offered: ${offered})`,
      );
    }
    if (ch.status === "pending") {
      if (ch.token === undefined || !/^[A-Za-z0-9_-]+$/.test(ch.token)) {
        throw new AcmeError(
          "bad-response",
          `Cannot parse the authorization from ${url}: tls-alpn-01 "token" is not base64url`,
        );
      }
      const keyAuthorization = await run.guard(run.ctx.keyAuthorization(ch.token));
      presented.push({ identifier: a.identifier, keyAuthorization });
      await run.guard(request.solver.present(a.identifier, keyAuthorization));
      const r = await run.post(ch.url, {}, kid);
      delay = r.retryAfterMs ?? delay;
    }
    polling.push(url);
  }
  // Poll every authorization to its end, so that every failed identifier is reported.
  while (polling.length > 0) {
    await run.wait(pollDelay(delay));
    delay = undefined;
    for (const url of [...polling]) {
      const r = await run.post(url, "", kid);
      const a = parseAuthorization(jsonObject(r, "authorization"), url);
      if (a.status === "pending") {
        if (r.retryAfterMs !== undefined) delay = Math.max(delay ?? 0, r.retryAfterMs);
        continue;
      }
      polling.splice(polling.indexOf(url), 1);
      if (a.status !== "valid") failed.push(authorizationProblem(a));
    }
  }
  if (failed.length > 0) {
    const parts = failed.map((p) => `${p.identifier?.value}: ${describeProblem(p)}`);
    throw new AcmeError("authorization-failed", `authorization failed for ${parts.join("; ")}`, {
      problems: failed,
      ...(failed.length === 1 ? { problem: failed[0] } : {}),
    });
  }
}

/** Polls the order (POST-as-GET) until `done`, honouring Retry-After. */
async function pollOrder(
  run: Run<OrderContext>,
  kid: string,
  url: string,
  done: (o: AcmeOrder) => boolean,
): Promise<AcmeOrder> {
  let order: AcmeOrder | undefined;
  let delay: number | undefined;
  for (let first = true; ; first = false) {
    if (!first) await run.wait(pollDelay(delay));
    const r = await run.post(url, "", kid);
    order = parseOrder(jsonObject(r, "order"), url);
    if (done(order) || order.status === "invalid") return order;
    delay = r.retryAfterMs;
  }
}

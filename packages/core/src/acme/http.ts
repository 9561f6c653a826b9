/**
 * HTTP to the ACME server: unauthenticated GETs, JWS-signed POSTs (RFC 8555, Section 6.2)
 * with a small pool of `Replay-Nonce`s (Section 6.5), `badNonce` retries (Section 6.5), and
 * every non-2xx answer turned into an {@linkcode AcmeError}: the problem document (Section 6.7),
 * `Retry-After` and the HTTP status.
 *
 * @example
 * ```ts
 * import { AcmeHttp, generateAccountKey } from "@alpnmux/core/acme";
 * const keys = await generateAccountKey();
 * const fakeFetch: typeof fetch = () =>
 *   Promise.resolve(new Response('{"ok":true}', { headers: { "replay-nonce": "n1" } }));
 * const http = new AcmeHttp({ fetch: fakeFetch, key: keys.privateKey, newNonceUrl: () => Promise.resolve("https://ca.test/nonce") });
 * const res = await http.get("https://ca.test/dir");
 * console.log(res.status, http.pooledNonces); // 200 1
 * ```
 *
 * @module acme/http
 */

import { AcmeError, describeProblem, parseProblem, parseRetryAfter } from "./errors.ts";
import { type FlattenedJws, signJws } from "./jws.ts";

/** How many nonces are kept; more are dropped (the server hands out fresh ones anyway). */
export const NONCE_POOL_SIZE = 8;
/** Attempts of one signed request when the server answers `badNonce` (1 + 3 retries). */
export const BAD_NONCE_ATTEMPTS = 4;

/** Options of {@linkcode AcmeHttp}. */
export interface AcmeHttpOptions {
  readonly fetch: typeof fetch;
  /** The account's private key. */
  readonly key: CryptoKey;
  /** Resolves to the directory's `newNonce` URL (asked only when the pool is empty). */
  readonly newNonceUrl: () => Promise<string>;
  readonly crypto?: Crypto;
  readonly userAgent?: string | undefined;
  readonly now?: () => number;
}

/** A successful (2xx) response with its body read. */
export interface AcmeResponse {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** `Retry-After` in ms, when the server sent one. */
  readonly retryAfterMs: number | undefined;
}

/** How a signed request identifies the account: its JWK (newAccount) or its URL (`kid`). */
export type JwsIdentity = { readonly jwk: unknown } | { readonly kid: string };

/** Per-request options. */
export interface RequestOptions {
  readonly accept?: string;
  readonly signal?: AbortSignal | undefined;
}

/** The ACME server's HTTP API. */
export class AcmeHttp {
  readonly #o: AcmeHttpOptions;
  readonly #nonces: string[] = [];

  constructor(options: AcmeHttpOptions) {
    this.#o = options;
  }

  /** How many unused nonces are pooled (for tests). */
  get pooledNonces(): number {
    return this.#nonces.length;
  }

  /**
   * An unauthenticated GET (directory, renewalInfo).
   *
   * @throws {AcmeError} `network`, `problem`, `bad-response` (non-2xx without a problem document).
   */
  async get(url: string, options: RequestOptions = {}): Promise<AcmeResponse> {
    const res = await this.#fetch("GET", url, undefined, options);
    return this.#finish("GET", url, res);
  }

  /**
   * A signed POST; `payload` `""` is POST-as-GET (RFC 8555, Section 6.3). On `badNonce` the
   * request is signed again with the fresh nonce that came with the error, up to 3 more times.
   *
   * @throws {AcmeError} As {@linkcode AcmeHttp.get}.
   */
  async post(
    url: string,
    payload: unknown,
    identity: JwsIdentity,
    options: RequestOptions = {},
  ): Promise<AcmeResponse> {
    for (let attempt = 1; ; attempt++) {
      const nonce = this.#nonces.pop() ?? (await this.#newNonce(options.signal));
      const jws: FlattenedJws = await signJws(
        this.#o.key,
        { ...identity, nonce, url },
        payload,
        this.#o.crypto,
      );
      const res = await this.#fetch("POST", url, JSON.stringify(jws), options);
      try {
        return await this.#finish("POST", url, res);
      } catch (e) {
        const badNonce = e instanceof AcmeError && e.problem?.type === "urn:ietf:params:acme:error:badNonce";
        if (!badNonce || attempt >= BAD_NONCE_ATTEMPTS) throw e;
      }
    }
  }

  async #newNonce(signal: AbortSignal | undefined): Promise<string> {
    const url = await this.#o.newNonceUrl();
    const res = await this.#fetch("HEAD", url, undefined, { signal });
    if (!res.ok) await this.#finish("HEAD", url, res);
    const nonce = this.#nonces.pop();
    if (nonce === undefined) {
      throw new AcmeError(
        "bad-response",
        `HEAD ${url} answered ${res.status} without a Replay-Nonce header`,
        {
          status: res.status,
        },
      );
    }
    return nonce;
  }

  async #fetch(
    method: string,
    url: string,
    body: string | undefined,
    options: RequestOptions,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/jose+json";
    if (options.accept !== undefined) headers.accept = options.accept;
    if (this.#o.userAgent !== undefined) headers["user-agent"] = this.#o.userAgent;
    let res: Response;
    try {
      res = await this.#o.fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason ?? e;
      throw new AcmeError("network", `${method} ${url} failed: ${(e as Error)?.message ?? String(e)}`, {
        cause: e,
      });
    }
    const nonce = res.headers.get("replay-nonce");
    // RFC 8555, Section 6.5.1: base64url; anything else is not kept.
    if (nonce !== null && /^[A-Za-z0-9_-]+$/.test(nonce)) {
      this.#nonces.push(nonce);
      if (this.#nonces.length > NONCE_POOL_SIZE) this.#nonces.shift();
    }
    return res;
  }

  async #finish(method: string, url: string, res: Response): Promise<AcmeResponse> {
    const now = (this.#o.now ?? Date.now)();
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now);
    let body: string;
    try {
      body = method === "HEAD" ? "" : await res.text();
    } catch (e) {
      throw new AcmeError("network", `${method} ${url}: reading the body failed: ${(e as Error).message}`, {
        cause: e,
        status: res.status,
      });
    }
    if (res.status >= 200 && res.status < 300) {
      return { url, status: res.status, headers: res.headers, body, retryAfterMs };
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const problem = parseProblem(json);
    if (problem === null) {
      const ct = res.headers.get("content-type") ?? "no content type";
      throw new AcmeError(
        "bad-response",
        `${method} ${url} answered ${res.status} (${ct}) without a problem document: ${JSON.stringify(body.slice(0, 200))}`,
        { status: res.status, retryAfterMs },
      );
    }
    throw new AcmeError("problem", `${method} ${url}: ${res.status} ${describeProblem(problem)}`, {
      problem,
      retryAfterMs,
      status: res.status,
    });
  }
}

/**
 * Parses a response body as a JSON object.
 *
 * @param res The response.
 * @param what What the body is, for the error message (e.g. `order`).
 * @returns The object.
 * @throws {AcmeError} `bad-response` naming `what` and the URL.
 * @example
 * ```ts
 * import { jsonObject } from "@alpnmux/core/acme";
 * jsonObject({ url: "https://ca.test/o/1", status: 200, headers: new Headers(), body: '{"status":"valid"}', retryAfterMs: undefined }, "order");
 * // { status: "valid" }
 * ```
 */
export function jsonObject(res: AcmeResponse, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new AcmeError(
      "bad-response",
      `Cannot parse the ${what} from ${res.url}: not JSON: ${JSON.stringify(res.body.slice(0, 100))}`,
      {
        status: res.status,
      },
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new AcmeError("bad-response", `Cannot parse the ${what} from ${res.url}: not a JSON object`, {
      status: res.status,
    });
  }
  return json as Record<string, unknown>;
}

/**
 * The ACME client (RFC 8555) alpnmux uses to get its own certificates with TLS-ALPN-01 (RFC
 * 8737), including IP identifiers (RFC 8738), ACME Renewal Information (RFC 9773), profiles
 * (draft-ietf-acme-profiles) and external account binding (RFC 8555, Section 7.3.4).
 *
 * Why our own client: the ACME libraries we know do not run unchanged on Bun, Deno and Node
 * with ARI and profiles. `acme-client` is built on Node APIs (its crypto module, axios) and has no
 * ARI; `@fishballpkg/acme` runs on WebCrypto but has neither ARI nor profiles. This one needs
 * only `fetch` and WebCrypto, both injected, so core stays runtime-agnostic.
 *
 * @example Order a certificate (the solver publishes the key authorization, e.g. via the admin API)
 * ```ts ignore
 * import { AcmeClient, createCsr, generateAccountKey, generateCertificateKey } from "@alpnmux/core/acme";
 * const client = new AcmeClient({
 *   directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory",
 *   fetch,
 *   accountKey: await generateAccountKey(),
 *   contact: ["mailto:admin@example.com"],
 * });
 * const identifiers = [{ type: "dns", value: "example.com" }] as const;
 * const keys = await generateCertificateKey("ecdsa-p256");
 * const csr = await createCsr(identifiers, keys, "ecdsa-p256");
 * const { pem } = await client.order({
 *   identifiers,
 *   csr,
 *   solver: { present: async () => {}, cleanup: async () => {} },
 * });
 * ```
 *
 * @module acme/client
 */

import { parseCertificate } from "./certificate.ts";
import { AcmeError } from "./errors.ts";
import { AcmeHttp, jsonObject } from "./http.ts";
import { accountJwk, createEabJws, jwkThumbprint, type PublicJwk } from "./jws.ts";
import { type IssuedCertificate, type OrderRequest, runOrder } from "./order-flow.ts";
import { type AcmeDirectory, type AcmeIdentifier, parseDirectory } from "./resources.ts";

export type { IssuedCertificate, OrderRequest, TlsAlpnSolver } from "./order-flow.ts";
export type { AcmeDirectory, AcmeIdentifier };

/** Options of {@linkcode AcmeClient}. */
export interface AcmeClientOptions {
  readonly directoryUrl: string;
  /** `fetch` for the CA (with any extra CA roots already applied by the adapter). */
  readonly fetch: typeof fetch;
  /** The account key: ECDSA P-256 (ES256). */
  readonly accountKey: CryptoKeyPair;
  /** e.g. `["mailto:admin@example.com"]`. */
  readonly contact?: readonly string[] | undefined;
  /** External account binding; `hmacKey` base64url as CAs hand it out. */
  readonly eab?: { readonly keyId: string; readonly hmacKey: string } | undefined;
  /** WebCrypto; default `globalThis.crypto`. */
  readonly crypto?: Crypto | undefined;
  readonly userAgent?: string | undefined;
  /** Default: a `setTimeout` promise. */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  /** Epoch ms; default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** The whole order, polling included; if 0 or omitted, 300 000 (5 minutes). */
  readonly orderTimeoutMs?: number | undefined;
}

/** RFC 9773 renewal information. */
export interface RenewalInfo {
  /** Epoch ms of `suggestedWindow.start`. */
  readonly start: number;
  /** Epoch ms of `suggestedWindow.end`. */
  readonly end: number;
  readonly explanationUrl?: string;
  /** From `Retry-After`: when to ask again. */
  readonly retryAfterMs?: number;
}

/** Default `orderTimeoutMs`: 5 minutes. */
export const DEFAULT_ORDER_TIMEOUT_MS = 300_000;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * An ACME account at one CA: directory, account, orders and renewal information.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateAccountKey } from "@alpnmux/core/acme";
 * const client = new AcmeClient({
 *   directoryUrl: "https://ca.test/dir",
 *   fetch: () => Promise.reject(new Error("offline")),
 *   accountKey: await generateAccountKey(),
 * });
 * const ka = await client.keyAuthorization("token");
 * console.log(ka.startsWith("token.")); // true
 * ```
 */
export class AcmeClient {
  readonly #o: AcmeClientOptions;
  readonly #crypto: Crypto;
  readonly #http: AcmeHttp;
  #jwk: Promise<PublicJwk> | undefined;
  #thumbprint: Promise<string> | undefined;
  #directory: Promise<AcmeDirectory> | undefined;
  #account: Promise<string> | undefined;

  /** @param options Directory URL, fetch, account key and the rest. */
  constructor(options: AcmeClientOptions) {
    if (!URL.canParse(options.directoryUrl)) {
      throw new TypeError(
        `Cannot create an ACME client: directoryUrl "${options.directoryUrl}" is not a URL`,
      );
    }
    this.#o = options;
    this.#crypto = options.crypto ?? globalThis.crypto;
    this.#http = new AcmeHttp({
      fetch: options.fetch,
      key: options.accountKey.privateKey,
      newNonceUrl: async () => (await this.directory()).newNonce,
      crypto: this.#crypto,
      userAgent: options.userAgent,
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
  }

  /** The account key's public JWK. */
  jwk(): Promise<PublicJwk> {
    this.#jwk ??= accountJwk(this.#o.accountKey.publicKey, this.#crypto);
    return this.#jwk;
  }

  /**
   * The directory, fetched once (a failed fetch is retried on the next call).
   *
   * @throws {AcmeError} `network`, `problem`, `bad-response`.
   */
  directory(): Promise<AcmeDirectory> {
    this.#directory ??= (async () => {
      const res = await this.#http.get(this.#o.directoryUrl);
      return parseDirectory(jsonObject(res, "directory"), this.#o.directoryUrl);
    })();
    this.#directory.catch(() => {
      this.#directory = undefined;
    });
    return this.#directory;
  }

  /**
   * The account URL (`kid`): newAccount with `termsOfServiceAgreed`, `contact` and the EAB when
   * configured, once (a failure is retried on the next call). An existing account for the key
   * answers 200 with the same URL.
   *
   * @throws {AcmeError} `problem` (e.g. `externalAccountRequired`), `network`, `bad-response`.
   */
  accountUrl(): Promise<string> {
    this.#account ??= this.#newAccount();
    this.#account.catch(() => {
      this.#account = undefined;
    });
    return this.#account;
  }

  async #newAccount(): Promise<string> {
    const dir = await this.directory();
    const jwk = await this.jwk();
    const payload: Record<string, unknown> = { termsOfServiceAgreed: true };
    if (this.#o.contact !== undefined) payload.contact = [...this.#o.contact];
    if (this.#o.eab !== undefined) {
      payload.externalAccountBinding = await createEabJws(
        { jwk, keyId: this.#o.eab.keyId, hmacKey: this.#o.eab.hmacKey, url: dir.newAccount },
        this.#crypto,
      );
    }
    const res = await this.#http.post(dir.newAccount, payload, { jwk });
    const location = res.headers.get("location");
    if (location === null || !URL.canParse(location)) {
      throw new AcmeError(
        "bad-response",
        `POST ${dir.newAccount} answered ${res.status} without a Location header`,
        {
          status: res.status,
        },
      );
    }
    const account = jsonObject(res, "account");
    if (account.status !== undefined && account.status !== "valid") {
      throw new AcmeError("bad-response", `the account ${location} is ${String(account.status)}, not valid`);
    }
    return location;
  }

  /**
   * The key authorization for a challenge token: `token "." thumbprint` (RFC 8555, Section 8.1).
   *
   * @param token The challenge's token.
   * @returns The key authorization.
   */
  async keyAuthorization(token: string): Promise<string> {
    this.#thumbprint ??= this.jwk().then((jwk) => jwkThumbprint(jwk, this.#crypto));
    return `${token}.${await this.#thumbprint}`;
  }

  /**
   * Orders a certificate: newOrder → each authorization's tls-alpn-01 challenge (solver.present,
   * then the challenge POST) → authorization polling → finalize with the CSR → order polling →
   * download. `solver.cleanup` runs for every presented challenge.
   *
   * @param request Identifiers, CSR, optional profile and `replaces`, the solver, a signal.
   * @returns The PEM chain and the order URL.
   * @throws {AcmeError} Any {@linkcode AcmeErrorCode}.
   * @throws {TypeError} For an identifier that is neither a DNS name nor an IP address.
   */
  order(request: OrderRequest): Promise<IssuedCertificate> {
    return runOrder(
      {
        http: this.#http,
        directory: () => this.directory(),
        account: () => this.accountUrl(),
        keyAuthorization: (token) => this.keyAuthorization(token),
        sleep: this.#o.sleep ?? defaultSleep,
        now: this.#o.now ?? Date.now,
        timeoutMs: this.#o.orderTimeoutMs || DEFAULT_ORDER_TIMEOUT_MS,
      },
      request,
    );
  }

  /**
   * The CA's suggested renewal window for a certificate (RFC 9773, Section 4.2): an
   * unauthenticated GET of `renewalInfo/<ariId>`.
   *
   * @param certificatePem The certificate (the first of a chain is used).
   * @param options `signal` aborts the request (AcmeError `aborted`).
   * @returns The window, or null when the directory has no `renewalInfo` or the certificate
   *   has no Authority Key Identifier.
   * @throws {AcmeError} `bad-response` for garbage (also a certificate that cannot be parsed),
   *   `problem`, `network`, `aborted`.
   */
  async renewalInfo(
    certificatePem: string,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<RenewalInfo | null> {
    const dir = await this.directory();
    if (dir.renewalInfo === undefined) return null;
    const { ariId } = parseCertificate(certificatePem);
    if (ariId === null) return null;
    const url = `${dir.renewalInfo.replace(/\/+$/, "")}/${ariId}`;
    const { signal } = options;
    const res = await this.#http.get(url, { signal }).catch((e: unknown) => {
      if (!signal?.aborted) throw e;
      throw new AcmeError("aborted", `GET ${url} was aborted`, { cause: signal.reason });
    });
    const json = jsonObject(res, "renewal information");
    const w = json.suggestedWindow as Record<string, unknown> | undefined;
    const start = typeof w?.start === "string" ? Date.parse(w.start) : Number.NaN;
    const end = typeof w?.end === "string" ? Date.parse(w.end) : Number.NaN;
    if (Number.isNaN(start) || Number.isNaN(end)) {
      throw new AcmeError(
        "bad-response",
        `Cannot parse the renewal information from ${url}: "suggestedWindow" needs start and end dates`,
      );
    }
    if (end < start) {
      throw new AcmeError(
        "bad-response",
        `Cannot parse the renewal information from ${url}: "suggestedWindow" ends before it starts`,
      );
    }
    const explanation = json.explanationURL;
    return {
      start,
      end,
      ...(typeof explanation === "string" && URL.canParse(explanation)
        ? { explanationUrl: explanation }
        : {}),
      ...(res.retryAfterMs !== undefined ? { retryAfterMs: res.retryAfterMs } : {}),
    };
  }
}

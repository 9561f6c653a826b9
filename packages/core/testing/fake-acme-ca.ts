/**
 * A test-only in-process ACME CA: a `fetch` over a small RFC 8555 state machine (directory,
 * nonces, accounts with optional EAB, orders, authorizations with tls-alpn-01 challenges,
 * finalize, certificate download, renewalInfo). It checks what a real CA checks of each JWS
 * (alg, one-time nonce, url, jwk xor kid, the ES256 signature, the EAB's HS256 MAC) and issues
 * real certificates from the CSR with its own CA key, so the client's whole path runs. Switches
 * make it misbehave on purpose (badNonce, slow validation, Retry-After, refusals), and
 * `intercept` lets a test answer any request with a recorded response. Test-only: not part of
 * the published package.
 *
 * @module fake-acme-ca
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { decodeBase64Url, encodeBase64Url } from "../src/acme/base64url.ts";
import type { AcmeProblemDocument } from "../src/certs/status.ts";
import { createTestCa, issueTestChain, type TestCa } from "./test-ca.ts";

export interface FakeAcmeCaOptions {
  /** Default `https://ca.test`. */
  readonly base?: string;
  /** `meta.profiles`; none when omitted. */
  readonly profiles?: Record<string, string>;
  /** Advertise `renewalInfo` (default false, like Pebble 2.4). */
  readonly renewalInfo?: boolean;
  /** Require EAB with this key id and base64url MAC key. */
  readonly eab?: { readonly keyId: string; readonly hmacKey: string };
  /** Challenge types offered per authorization (default http-01, dns-01, tls-alpn-01). */
  readonly challengeTypes?: readonly string[];
  /** The validation outcome for a challenge: null = valid, or the challenge's error. */
  readonly validate?: (identifier: Identifier, keyAuthorization: string) => AcmeProblemDocument | null;
  /** How many authorization polls stay `pending` after the challenge POST (default 1). */
  readonly pendingPolls?: number;
  /** How many order polls stay `processing` after finalize (default 1). */
  readonly processingPolls?: number;
  /** Retry-After (seconds) on pending authorizations and processing orders. */
  readonly retryAfter?: number;
  /** Answer `alreadyReplaced` to a newOrder with `replaces`. */
  readonly alreadyReplaced?: boolean;
  /** Authorizations of these identifiers start `valid` (authorization reuse). */
  readonly validIdentifiers?: readonly string[];
}

export interface Identifier {
  readonly type: "dns" | "ip";
  readonly value: string;
}

/** One request as the CA saw it. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  /** The decoded protected header of a JWS POST. */
  readonly header?: Record<string, unknown>;
  /** The decoded payload (`""` for POST-as-GET). */
  readonly payload?: unknown;
  readonly accept?: string | null;
  readonly contentType?: string | null;
}

interface Challenge {
  type: string;
  token: string;
  status: string;
  error?: AcmeProblemDocument;
}
interface Authz {
  id: number;
  identifier: Identifier;
  status: string;
  challenges: Challenge[];
  polls: number;
  outcome?: AcmeProblemDocument | null;
  account: string;
}
interface Order {
  id: number;
  status: string;
  identifiers: Identifier[];
  authz: number[];
  account: string;
  polls: number;
  cert?: string;
  error?: AcmeProblemDocument;
  profile?: string;
  replaces?: string;
}

const ERR = "urn:ietf:params:acme:error:";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The fake CA. */
export class FakeAcmeCa {
  readonly base: string;
  readonly requests: FakeRequest[] = [];
  /** Account URL → public JWK. */
  readonly accounts = new Map<string, JsonWebKey>();
  readonly orders: Order[] = [];
  readonly authzs: Authz[] = [];
  /** Answer `badNonce` to this many more signed requests (each with a fresh nonce). */
  badNonces = 0;
  /** A test's own answer for a request (return undefined to let the CA answer). */
  intercept: ((req: FakeRequest) => Response | undefined) | undefined;
  /** The RFC 9773 response for GET renewalInfo/<id>. */
  renewalInfoResponse: (ariId: string) => Response = () =>
    json({ suggestedWindow: { start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z" } }, 200, {
      "retry-after": "21600",
    });
  readonly #o: FakeAcmeCaOptions;
  readonly #nonces = new Set<string>();
  #seq = 0;
  #ca: Promise<TestCa> | undefined;

  constructor(options: FakeAcmeCaOptions = {}) {
    this.#o = options;
    this.base = options.base ?? "https://ca.test";
  }

  /** The `fetch` to give the client. */
  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? "GET";
    const headers = new Headers(init?.headers);
    const res = await this.#handle(
      method,
      url,
      headers,
      typeof init?.body === "string" ? init.body : undefined,
    );
    if (method !== "GET" || url.pathname === "/new-nonce") res.headers.set("replay-nonce", this.#nonce());
    return res;
  };

  /** The directory URL. */
  get directoryUrl(): string {
    return `${this.base}/dir`;
  }

  /** The CA certificate that signs issued certificates (PEM). */
  async caPem(): Promise<string> {
    return (await this.#caKey()).cert.toString("pem");
  }

  #nonce(): string {
    const n = `nonce-${++this.#seq}`;
    this.#nonces.add(n);
    return n;
  }

  #caKey(): Promise<TestCa> {
    this.#ca ??= createTestCa(
      "CN=Fake ACME CA",
      new Date(Date.now() - 3600_000),
      new Date(Date.now() + 86400_000 * 365),
    );
    return this.#ca;
  }

  async #handle(method: string, url: URL, headers: Headers, body: string | undefined): Promise<Response> {
    const path = url.pathname;
    if (method === "GET" && path === "/dir") return json(this.#directory());
    if ((method === "HEAD" || method === "GET") && path === "/new-nonce") {
      return new Response(null, {
        status: method === "HEAD" ? 200 : 204,
        headers: { "cache-control": "no-store" },
      });
    }
    if (method === "GET" && path.startsWith("/renewal-info/")) {
      const req: FakeRequest = { method, path };
      this.requests.push(req);
      return this.intercept?.(req) ?? this.renewalInfoResponse(path.slice("/renewal-info/".length));
    }
    if (method !== "POST") return problem("malformed", `${method} ${path} is not allowed`, 405);
    if (headers.get("content-type") !== "application/jose+json") {
      return problem("malformed", "Content-Type must be application/jose+json", 415);
    }
    let jws: { protected: string; payload: string; signature: string };
    let header: Record<string, unknown>;
    let payload: unknown;
    try {
      jws = JSON.parse(body ?? "");
      header = JSON.parse(dec.decode(decodeBase64Url(jws.protected)));
      payload = jws.payload === "" ? "" : JSON.parse(dec.decode(decodeBase64Url(jws.payload)));
    } catch {
      return problem("malformed", "not a flattened JWS");
    }
    const req: FakeRequest = {
      method,
      path,
      header,
      payload,
      accept: headers.get("accept"),
      contentType: headers.get("content-type"),
    };
    this.requests.push(req);
    // RFC 8555, Section 6.2-6.5.
    if (header.alg !== "ES256") return problem("badSignatureAlgorithm", `alg ${String(header.alg)}`);
    if (header.url !== url.href)
      return problem("unauthorized", `url ${String(header.url)} is not ${url.href}`, 401);
    if (typeof header.nonce !== "string" || !this.#nonces.delete(header.nonce)) {
      return problem("badNonce", `nonce ${String(header.nonce)} unknown or used`);
    }
    if (this.badNonces > 0) {
      this.badNonces--;
      return problem("badNonce", "JWS has an invalid anti-replay nonce");
    }
    if ((header.jwk === undefined) === (header.kid === undefined))
      return problem("malformed", "need jwk xor kid");
    const jwk = (header.jwk as JsonWebKey | undefined) ?? this.accounts.get(String(header.kid));
    if (jwk === undefined) return problem("accountDoesNotExist", `no account ${String(header.kid)}`, 400);
    const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "verify",
    ]);
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      decodeBase64Url(jws.signature),
      enc.encode(`${jws.protected}.${jws.payload}`),
    );
    if (!ok) return problem("malformed", "JWS signature does not verify", 400);
    const intercepted = this.intercept?.(req);
    if (intercepted !== undefined) return intercepted;
    if (path === "/new-acct") return this.#newAccount(header, payload as Record<string, unknown>);
    const account = String(header.kid);
    if (header.jwk !== undefined) return problem("malformed", "use kid after newAccount");
    if (path === "/new-order") return this.#newOrder(account, payload as Record<string, unknown>);
    const m = /^\/(authz|chall|order|finalize|cert)\/(\d+)(?:\/(\d+))?$/.exec(path);
    if (m === null) return problem("malformed", `no resource ${path}`, 404);
    const id = Number(m[2]);
    switch (m[1]) {
      case "authz":
        return this.#authz(id);
      case "chall":
        return this.#challenge(id, Number(m[3]), payload);
      case "order":
        return this.#order(id);
      case "finalize":
        return this.#finalize(id, payload as Record<string, unknown>);
      default:
        return this.#cert(id, req.accept ?? null);
    }
  }

  #directory(): Record<string, unknown> {
    const meta: Record<string, unknown> = { termsOfService: `${this.base}/tos` };
    if (this.#o.profiles !== undefined) meta.profiles = this.#o.profiles;
    if (this.#o.eab !== undefined) meta.externalAccountRequired = true;
    return {
      newNonce: `${this.base}/new-nonce`,
      newAccount: `${this.base}/new-acct`,
      newOrder: `${this.base}/new-order`,
      revokeCert: `${this.base}/revoke`,
      keyChange: `${this.base}/key-change`,
      ...(this.#o.renewalInfo ? { renewalInfo: `${this.base}/renewal-info` } : {}),
      meta,
    };
  }

  async #newAccount(header: Record<string, unknown>, payload: Record<string, unknown>): Promise<Response> {
    const jwk = header.jwk as JsonWebKey | undefined;
    if (jwk === undefined) return problem("malformed", "newAccount needs jwk");
    if (payload.termsOfServiceAgreed !== true)
      return problem("userActionRequired", "agree to the terms", 403);
    if (this.#o.eab !== undefined) {
      const eab = payload.externalAccountBinding as
        | { protected: string; payload: string; signature: string }
        | undefined;
      if (eab === undefined)
        return problem("externalAccountRequired", "an external account binding is required", 400);
      const h = JSON.parse(dec.decode(decodeBase64Url(eab.protected))) as Record<string, unknown>;
      const inner = JSON.parse(dec.decode(decodeBase64Url(eab.payload))) as unknown;
      if (h.alg !== "HS256" || h.kid !== this.#o.eab.keyId || h.url !== `${this.base}/new-acct`) {
        return problem("unauthorized", "EAB header wrong", 400);
      }
      if (JSON.stringify(inner) !== JSON.stringify(jwk))
        return problem("malformed", "EAB payload is not the account JWK");
      const mac = await crypto.subtle.importKey(
        "raw",
        decodeBase64Url(this.#o.eab.hmacKey),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
      const ok = await crypto.subtle.verify(
        "HMAC",
        mac,
        decodeBase64Url(eab.signature),
        enc.encode(`${eab.protected}.${eab.payload}`),
      );
      if (!ok) return problem("unauthorized", "EAB MAC does not verify", 400);
    }
    const existing = [...this.accounts].find(([, k]) => k.x === jwk.x && k.y === jwk.y);
    if (existing !== undefined) return json({ status: "valid" }, 200, { location: existing[0] });
    const url = `${this.base}/acct/${this.accounts.size + 1}`;
    this.accounts.set(url, jwk);
    return json({ status: "valid", contact: payload.contact ?? [] }, 201, { location: url });
  }

  #newOrder(account: string, payload: Record<string, unknown>): Response {
    const ids = payload.identifiers as Identifier[] | undefined;
    if (!Array.isArray(ids) || ids.length === 0) return problem("malformed", "no identifiers");
    if (payload.profile !== undefined && !Object.hasOwn(this.#o.profiles ?? {}, String(payload.profile))) {
      return problem("invalidProfile", `profile ${String(payload.profile)} unknown`);
    }
    if (payload.replaces !== undefined) {
      if (!this.#o.renewalInfo) return problem("malformed", "replaces without ARI");
      if (this.#o.alreadyReplaced)
        return problem("alreadyReplaced", `${String(payload.replaces)} was already replaced`, 409);
    }
    const order: Order = {
      id: this.orders.length,
      status: "pending",
      identifiers: ids,
      authz: [],
      account,
      polls: 0,
      ...(payload.profile !== undefined ? { profile: String(payload.profile) } : {}),
      ...(payload.replaces !== undefined ? { replaces: String(payload.replaces) } : {}),
    };
    for (const identifier of ids) {
      const reused = this.#o.validIdentifiers?.includes(identifier.value) ?? false;
      const a: Authz = {
        id: this.authzs.length,
        identifier,
        status: reused ? "valid" : "pending",
        challenges: (this.#o.challengeTypes ?? ["http-01", "dns-01", "tls-alpn-01"]).map((type, i) => ({
          type,
          token: `tok${this.authzs.length}_${i}-x`,
          status: reused ? "valid" : "pending",
        })),
        polls: 0,
        account,
      };
      this.authzs.push(a);
      order.authz.push(a.id);
    }
    this.orders.push(order);
    return json(this.#orderJson(order), 201, { location: `${this.base}/order/${order.id}` });
  }

  #authzJson(a: Authz): Record<string, unknown> {
    return {
      identifier: a.identifier,
      status: a.status,
      expires: "2030-01-01T00:00:00Z",
      challenges: a.challenges.map((c, i) => ({
        type: c.type,
        url: `${this.base}/chall/${a.id}/${i}`,
        token: c.token,
        status: c.status,
        ...(c.error !== undefined ? { error: c.error } : {}),
      })),
    };
  }

  #authz(id: number): Response {
    const a = this.authzs[id];
    if (a === undefined) return problem("malformed", `no authz ${id}`, 404);
    if (a.outcome !== undefined && a.status === "pending") {
      a.polls++;
      if (a.polls > (this.#o.pendingPolls ?? 1)) {
        const c = a.challenges.find((x) => x.type === "tls-alpn-01");
        if (a.outcome === null) {
          a.status = "valid";
          if (c) c.status = "valid";
        } else {
          a.status = "invalid";
          if (c) {
            c.status = "invalid";
            c.error = a.outcome;
          }
        }
      }
    }
    const retry =
      a.status === "pending" && this.#o.retryAfter !== undefined
        ? { "retry-after": String(this.#o.retryAfter) }
        : undefined;
    return json(this.#authzJson(a), 200, retry);
  }

  async #challenge(id: number, index: number, payload: unknown): Promise<Response> {
    const a = this.authzs[id];
    const c = a?.challenges[index];
    if (a === undefined || c === undefined) return problem("malformed", "no challenge", 404);
    if (typeof payload !== "object" || payload === null || Object.keys(payload).length !== 0) {
      return problem("malformed", "a challenge response is {}");
    }
    if (c.status === "pending") {
      c.status = "processing";
      const thumb = await thumbprint(this.accounts.get(a.account) as JsonWebKey);
      a.outcome = this.#o.validate?.(a.identifier, `${c.token}.${thumb}`) ?? null;
    }
    return json(
      { type: c.type, url: `${this.base}/chall/${id}/${index}`, token: c.token, status: c.status },
      200,
      {
        link: `<${this.base}/authz/${id}>;rel="up"`,
      },
    );
  }

  #orderStatus(o: Order): void {
    if (o.status !== "pending") return;
    const as = o.authz.map((i) => this.authzs[i] as Authz);
    if (as.some((a) => a.status === "invalid")) {
      o.status = "invalid";
      o.error = { type: `${ERR}unauthorized`, detail: "an authorization failed" };
    } else if (as.every((a) => a.status === "valid")) o.status = "ready";
  }

  #orderJson(o: Order): Record<string, unknown> {
    this.#orderStatus(o);
    return {
      status: o.status,
      expires: "2030-01-01T00:00:00Z",
      identifiers: o.identifiers,
      authorizations: o.authz.map((i) => `${this.base}/authz/${i}`),
      finalize: `${this.base}/finalize/${o.id}`,
      ...(o.profile !== undefined ? { profile: o.profile } : {}),
      ...(o.replaces !== undefined ? { replaces: o.replaces } : {}),
      ...(o.status === "valid" ? { certificate: `${this.base}/cert/${o.id}` } : {}),
      ...(o.error !== undefined ? { error: o.error } : {}),
    };
  }

  #order(id: number): Response {
    const o = this.orders[id];
    if (o === undefined) return problem("malformed", `no order ${id}`, 404);
    if (o.status === "processing") {
      o.polls++;
      if (o.polls > (this.#o.processingPolls ?? 1)) o.status = o.cert === undefined ? "invalid" : "valid";
    }
    const retry =
      o.status === "processing" && this.#o.retryAfter !== undefined
        ? { "retry-after": String(this.#o.retryAfter) }
        : undefined;
    return json(this.#orderJson(o), 200, retry);
  }

  async #finalize(id: number, payload: Record<string, unknown>): Promise<Response> {
    const o = this.orders[id];
    if (o === undefined) return problem("malformed", `no order ${id}`, 404);
    this.#orderStatus(o);
    if (o.status !== "ready") return problem("orderNotReady", `order is ${o.status}`, 403);
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(decodeBase64Url(String(payload.csr)));
    } catch {
      return problem("badCSR", "cannot parse the CSR");
    }
    if (!(await csr.verify(crypto))) return problem("badCSR", "CSR signature does not verify");
    const san = csr.extensions.find(
      (e): e is x509.SubjectAlternativeNameExtension => e instanceof x509.SubjectAlternativeNameExtension,
    );
    const names = (san?.names.items ?? []).map((n) => `${n.type}:${n.value}`).sort();
    const want = o.identifiers.map((i) => `${i.type}:${i.value}`).sort();
    if (JSON.stringify(names) !== JSON.stringify(want)) {
      return problem("badCSR", `CSR names ${names.join(",")} are not the order's ${want.join(",")}`);
    }
    const ca = await this.#caKey();
    o.cert = await issueTestChain(ca, {
      serialNumber: (0x80 + id).toString(16).padStart(4, "0").replace(/^00/, "") + "12345678",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 7 * 86400_000),
      publicKey: csr.publicKey,
      subjectAltName: san as x509.SubjectAlternativeNameExtension,
    });
    o.status = "processing";
    o.polls = 0;
    return json(
      this.#orderJson(o),
      200,
      this.#o.retryAfter !== undefined ? { "retry-after": String(this.#o.retryAfter) } : undefined,
    );
  }

  #cert(id: number, accept: string | null): Response {
    const o = this.orders[id];
    if (o?.cert === undefined || o.status !== "valid") return problem("malformed", "no certificate", 404);
    if (accept !== "application/pem-certificate-chain") return problem("malformed", `Accept ${accept}`, 406);
    return new Response(o.cert, {
      status: 200,
      headers: { "content-type": "application/pem-certificate-chain" },
    });
  }
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** An ACME problem response. */
export function problem(
  type: string,
  detail: string,
  status = 400,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ type: `${ERR}${type}`, detail, status }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const s = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return encodeBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s))));
}

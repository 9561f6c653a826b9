/**
 * The ACME resources the client reads (RFC 8555, Section 7.1): the directory (with RFC 9773's
 * `renewalInfo` and draft-ietf-acme-profiles' `meta.profiles`), orders and authorizations.
 * Each parser checks the fields the client relies on and names the first one that is wrong.
 *
 * @example
 * ```ts
 * import { parseDirectory } from "@alpnmux/core/acme";
 * const dir = parseDirectory(
 *   { newNonce: "https://ca.test/n", newAccount: "https://ca.test/a", newOrder: "https://ca.test/o" },
 *   "https://ca.test/dir",
 * );
 * console.log(dir.renewalInfo); // undefined
 * ```
 *
 * @module acme/resources
 */

import type { AcmeProblemDocument } from "../certs/status.ts";
import { AcmeError, parseIdentifier, parseProblem } from "./errors.ts";

/** An identifier in an order (RFC 8555, Section 9.7.7; RFC 8738 for `ip`). */
export interface AcmeIdentifier {
  readonly type: "dns" | "ip";
  readonly value: string;
}

/** The directory (RFC 8555, Section 7.1.1). */
export interface AcmeDirectory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
  /** RFC 9773, Section 4. */
  readonly renewalInfo?: string;
  readonly revokeCert?: string;
  readonly keyChange?: string;
  readonly meta?: {
    readonly termsOfService?: string;
    readonly website?: string;
    readonly externalAccountRequired?: boolean;
    /** draft-ietf-acme-profiles: profile name → description (a URL or text). */
    readonly profiles?: Readonly<Record<string, string>>;
  };
}

/** The order fields the client uses (RFC 8555, Section 7.1.3). */
export interface AcmeOrder {
  readonly status: "pending" | "ready" | "processing" | "valid" | "invalid";
  readonly authorizations: readonly string[];
  readonly finalize: string;
  readonly certificate?: string;
  readonly error?: AcmeProblemDocument;
}

/** A challenge of an authorization (RFC 8555, Section 8). */
export interface AcmeChallenge {
  readonly type: string;
  readonly url: string;
  readonly status: string;
  readonly token?: string;
  readonly error?: AcmeProblemDocument;
}

/** The authorization fields the client uses (RFC 8555, Section 7.1.4). */
export interface AcmeAuthorization {
  readonly identifier: AcmeIdentifier;
  readonly status: "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
  readonly challenges: readonly AcmeChallenge[];
}

const ORDER_STATUSES = new Set(["pending", "ready", "processing", "valid", "invalid"]);
const AUTHZ_STATUSES = new Set(["pending", "valid", "invalid", "deactivated", "expired", "revoked"]);

const bad = (what: string, url: string, why: string) =>
  new AcmeError("bad-response", `Cannot parse the ${what} from ${url}: ${why}`);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A URL field: a string that parses as a URL. */
function urlField(obj: Record<string, unknown>, key: string, what: string, url: string): string {
  const v = obj[key];
  if (typeof v !== "string" || !URL.canParse(v)) throw bad(what, url, `"${key}" is not a URL`);
  return v;
}

function optionalUrl(
  obj: Record<string, unknown>,
  key: string,
  what: string,
  url: string,
): { [k: string]: string } {
  return obj[key] === undefined ? {} : { [key]: urlField(obj, key, what, url) };
}

/**
 * Checks a directory object.
 *
 * @param json The parsed directory.
 * @param url Where it came from (for messages).
 * @returns The directory.
 * @throws {AcmeError} `bad-response` naming the field.
 * @example
 * ```ts
 * import { parseDirectory } from "@alpnmux/core/acme";
 * try {
 *   parseDirectory({ newNonce: 1 }, "https://ca.test/dir");
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot parse the directory from https://ca.test/dir: "newNonce" is not a URL
 * }
 * ```
 */
export function parseDirectory(json: unknown, url: string): AcmeDirectory {
  if (!isObject(json)) throw bad("directory", url, "not a JSON object");
  const base = {
    newNonce: urlField(json, "newNonce", "directory", url),
    newAccount: urlField(json, "newAccount", "directory", url),
    newOrder: urlField(json, "newOrder", "directory", url),
    ...optionalUrl(json, "renewalInfo", "directory", url),
    ...optionalUrl(json, "revokeCert", "directory", url),
    ...optionalUrl(json, "keyChange", "directory", url),
  };
  const m = json.meta;
  if (m === undefined) return base;
  if (!isObject(m)) throw bad("directory", url, `"meta" is not an object`);
  const meta: Record<string, unknown> = {};
  for (const k of ["termsOfService", "website"] as const) {
    if (m[k] === undefined) continue;
    if (typeof m[k] !== "string") throw bad("directory", url, `"meta.${k}" is not a string`);
    meta[k] = m[k];
  }
  if (m.externalAccountRequired !== undefined) {
    if (typeof m.externalAccountRequired !== "boolean") {
      throw bad("directory", url, `"meta.externalAccountRequired" is not a boolean`);
    }
    meta.externalAccountRequired = m.externalAccountRequired;
  }
  if (m.profiles !== undefined) {
    const p = m.profiles;
    if (!isObject(p) || !Object.values(p).every((v) => typeof v === "string")) {
      throw bad("directory", url, `"meta.profiles" is not an object of strings`);
    }
    meta.profiles = p as Record<string, string>;
  }
  return { ...base, meta };
}

/**
 * Checks an order object.
 *
 * @param json The parsed order.
 * @param url Where it came from.
 * @returns The order.
 * @throws {AcmeError} `bad-response` naming the field.
 * @example
 * ```ts
 * import { parseOrder } from "@alpnmux/core/acme";
 * parseOrder({ status: "ready", authorizations: [], finalize: "https://ca.test/f" }, "https://ca.test/o").status; // "ready"
 * ```
 */
export function parseOrder(json: unknown, url: string): AcmeOrder {
  if (!isObject(json)) throw bad("order", url, "not a JSON object");
  if (typeof json.status !== "string" || !ORDER_STATUSES.has(json.status)) {
    throw bad("order", url, `"status" is ${JSON.stringify(json.status)}`);
  }
  const authz = json.authorizations;
  if (!Array.isArray(authz) || !authz.every((a) => typeof a === "string" && URL.canParse(a))) {
    throw bad("order", url, `"authorizations" is not an array of URLs`);
  }
  const error = parseProblem(json.error);
  return {
    status: json.status as AcmeOrder["status"],
    authorizations: authz as string[],
    finalize: urlField(json, "finalize", "order", url),
    ...optionalUrl(json, "certificate", "order", url),
    ...(error !== null ? { error } : {}),
  };
}

/**
 * Checks an authorization object.
 *
 * @param json The parsed authorization.
 * @param url Where it came from.
 * @returns The authorization.
 * @throws {AcmeError} `bad-response` naming the field.
 * @example
 * ```ts
 * import { parseAuthorization } from "@alpnmux/core/acme";
 * const a = parseAuthorization(
 *   { identifier: { type: "dns", value: "a.test" }, status: "valid", challenges: [] },
 *   "https://ca.test/authz/1",
 * );
 * console.log(a.identifier.value); // "a.test"
 * ```
 */
export function parseAuthorization(json: unknown, url: string): AcmeAuthorization {
  if (!isObject(json)) throw bad("authorization", url, "not a JSON object");
  const identifier = parseIdentifier(json.identifier);
  if (identifier === undefined) throw bad("authorization", url, `"identifier" is not a dns or ip identifier`);
  if (typeof json.status !== "string" || !AUTHZ_STATUSES.has(json.status)) {
    throw bad("authorization", url, `"status" is ${JSON.stringify(json.status)}`);
  }
  if (!Array.isArray(json.challenges)) throw bad("authorization", url, `"challenges" is not an array`);
  const challenges = json.challenges.map((c, i): AcmeChallenge => {
    if (!isObject(c) || typeof c.type !== "string" || typeof c.status !== "string") {
      throw bad("authorization", url, `challenge ${i} has no type or status`);
    }
    if (c.token !== undefined && typeof c.token !== "string") {
      throw bad("authorization", url, `challenge ${i} "token" is not a string`);
    }
    const error = parseProblem(c.error);
    return {
      type: c.type,
      status: c.status,
      url: urlField(c, "url", "authorization", url),
      ...(typeof c.token === "string" ? { token: c.token } : {}),
      ...(error !== null ? { error } : {}),
    };
  });
  return { identifier, status: json.status as AcmeAuthorization["status"], challenges };
}

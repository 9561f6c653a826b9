/**
 * A client for the admin API ({@linkcode createAdminClient}) and the `alpnmux challenge`
 * command built on it ({@linkcode runChallengeCommand}), which ACME clients call from their
 * TLS-ALPN-01 hooks to publish and remove challenges: the key authorization (lego, acme.sh), or
 * its SHA-256 digest as uacme (base64url) or dehydrated (colon-separated hex) pass it.
 *
 * @example Publish a challenge from a deploy hook
 * ```ts
import { createAdminClient } from "@alpnmux/core/admin-client";
 * // Talks to a running alpnmux over HTTP, so not called here.
 * async function deployHook() {
 *   const admin = createAdminClient({ baseUrl: "http://127.0.0.1:9180", token: "s3cret-token-0123456789" });
 *   await admin.setChallenge("www.example.com", "token.thumbprint", 600);
 *   // … ask the CA to validate …
 *   await admin.deleteChallenge("www.example.com");
 * }
 * ```
 *
 * @module admin-client
 */

import type { RouteTableDocument } from "./admin-api.ts";
import type { CertificateStatus } from "./certs/status.ts";
import { KEY_AUTHORIZATION_PATTERN } from "./challenge-value.ts";
import { type ChallengeArgs, parseChallengeArgs, UsageError } from "./cli-args.ts";

/** Why an admin call failed. */
export type AdminClientErrorCode =
  | "unauthorized"
  | "bad-request"
  | "not-found"
  | "unreachable"
  | "server-error";

/** One config problem reported by `PUT /v1/routes`. */
export interface AdminIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A failed admin call. `message` is the server's message when it sent one.
 *
 * @example
 * ```ts
 * import { AdminClientError, createAdminClient } from "@alpnmux/core/admin-client";
 * const admin = createAdminClient({
 *   baseUrl: "http://127.0.0.1:9180",
 *   token: "wrong-token",
 *   fetch: () => Response.json({ error: "unauthorized" }, { status: 401 }), // a server refusing the token
 * });
 * try { await admin.listChallenges(); }
 * catch (e) { if (e instanceof AdminClientError && e.code === "unauthorized") console.error("check the token"); }
 * ```
 */
export class AdminClientError extends Error {
  /** Stable code. */
  readonly code: AdminClientErrorCode;
  /** HTTP status; 0 when the server was not reached. */
  readonly status: number;
  /** The server's own error code (`error.code` of the body), if any. */
  readonly serverCode: string | undefined;
  /** Config issues of a rejected route table. */
  readonly issues: readonly AdminIssue[];
  /**
   * @param code Stable code.
   * @param message The server's message, or why the server was not reached.
   * @param extra Status, server code and issues.
   */
  constructor(
    code: AdminClientErrorCode,
    message: string,
    extra: { status?: number; serverCode?: string; issues?: readonly AdminIssue[]; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "AdminClientError";
    this.code = code;
    this.status = extra.status ?? 0;
    this.serverCode = extra.serverCode;
    this.issues = extra.issues ?? [];
  }
}

/** A fetch function: `globalThis.fetch`, or `(req) => app.fetch(req)` in tests. */
export type FetchLike = (request: Request) => Response | Promise<Response>;

/** Options of {@linkcode createAdminClient}. */
export interface AdminClientOptions {
  /** Admin API base URL, e.g. `http://127.0.0.1:9180`. */
  readonly baseUrl: string;
  /** The bearer token. */
  readonly token: string;
  /** The fetch to use; if absent, `globalThis.fetch`. */
  readonly fetch?: FetchLike;
  /** Per-request timeout; if 0 or absent, 10000 ms. */
  readonly timeoutMs?: number;
}

/** A stored challenge as listed; `expiresAt` is ISO 8601, or `null` for never. */
export interface ChallengeInfo {
  readonly identifier: string;
  readonly expiresAt: string | null;
}

/** The `/healthz` answer. */
export interface AdminHealth {
  readonly status: "ok";
  readonly active: number;
  readonly inHello: number;
  readonly version?: string;
}

/** The admin API, typed. Every method throws {@linkcode AdminClientError} on failure. */
export interface AdminClient {
  /**
   * Stores a challenge: `value` is a key authorization, or its SHA-256 digest as base64url
   * (uacme) or colon-separated hex (dehydrated). `created` is false when one was replaced.
   */
  setChallenge(
    identifier: string,
    value: string,
    ttlSeconds?: number,
  ): Promise<ChallengeInfo & { readonly created: boolean }>;
  /** Removes a challenge; `false` when none was stored. */
  deleteChallenge(identifier: string): Promise<boolean>;
  /** Lists stored challenges. */
  listChallenges(): Promise<ChallengeInfo[]>;
  /** Server health (no token needed). */
  health(): Promise<AdminHealth>;
  /** The route table in force. */
  getRoutes(): Promise<RouteTableDocument>;
  /** Every configured certificate's status (`GET /v1/certificates`). */
  listCertificates(): Promise<CertificateStatus[]>;
  /** One certificate's status; `not-found` (serverCode `certificate-not-found`) for an unknown name. */
  getCertificate(name: string): Promise<CertificateStatus>;
  /** Starts an order for `name` now; resolves with its status (`renewing`). */
  renewCertificate(name: string): Promise<CertificateStatus>;
  /** Replaces the route table; rejected tables throw `bad-request` with `issues`. */
  setRoutes(table: {
    routes?: unknown;
    default: unknown;
    onNotTls?: string;
    onNoSni?: string;
  }): Promise<RouteTableDocument>;
}

function codeFor(status: number): AdminClientErrorCode {
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404) return "not-found";
  if (status >= 400 && status < 500) return "bad-request";
  return "server-error";
}

/**
 * Creates an admin API client.
 *
 * @param options Base URL, token, fetch.
 * @returns The client.
 * @example
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { createAdminApp } from "@alpnmux/core/admin-api";
 * import { createAdminClient } from "@alpnmux/core/admin-client";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const token = "s3cret-token-0123456789";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const app = createAdminApp({ router, challenges: new MemoryChallengeStore(), token });
 * // In-process (no socket): drop `fetch` to talk to a running alpnmux.
 * const admin = createAdminClient({ baseUrl: "http://127.0.0.1:9180", token, fetch: (req) => app.fetch(req) });
 * await admin.setChallenge("www.example.com", "token.thumbprint", 600);
 * for (const c of await admin.listChallenges()) console.log(c.identifier, c.expiresAt);
 * ```
 */
export function createAdminClient(options: AdminClientOptions): AdminClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch: FetchLike = options.fetch ?? ((r) => globalThis.fetch(r));
  const timeoutMs = options.timeoutMs || 10_000;

  async function call(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (auth) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      const req = new Request(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      res = await doFetch(req);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new AdminClientError("unreachable", `Cannot reach the admin API at ${base}: ${why}`, {
        cause: e,
      });
    }
    if (res.ok) return res;
    let serverCode: string | undefined;
    let message = `${method} ${path}: HTTP ${res.status}`;
    let issues: AdminIssue[] | undefined;
    try {
      const j = (await res.json()) as { error?: { code?: unknown; message?: unknown; issues?: unknown } };
      if (typeof j.error?.code === "string") serverCode = j.error.code;
      if (typeof j.error?.message === "string") message = j.error.message;
      if (Array.isArray(j.error?.issues)) issues = j.error.issues as AdminIssue[];
    } catch {
      // Not JSON (a proxy's error page): keep the generic message.
    }
    throw new AdminClientError(codeFor(res.status), message, {
      status: res.status,
      ...(serverCode !== undefined ? { serverCode } : {}),
      ...(issues !== undefined ? { issues } : {}),
    });
  }

  async function json<T>(res: Response): Promise<T> {
    try {
      return (await res.json()) as T;
    } catch (e) {
      throw new AdminClientError(
        "server-error",
        `The admin API sent a body that is not JSON (HTTP ${res.status})`,
        {
          status: res.status,
          cause: e,
        },
      );
    }
  }

  const idPath = (identifier: string) => `/v1/challenges/${encodeURIComponent(identifier)}`;

  return {
    async setChallenge(identifier, value, ttlSeconds) {
      // A key authorization goes in the older field, which every server version reads; the
      // server checks the rest (digests, and values in no known form).
      const field = KEY_AUTHORIZATION_PATTERN.test(value) ? "keyAuthorization" : "value";
      const res = await call("PUT", idPath(identifier), {
        [field]: value,
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      });
      return { ...(await json<ChallengeInfo>(res)), created: res.status === 201 };
    },
    async deleteChallenge(identifier) {
      try {
        await call("DELETE", idPath(identifier));
        return true;
      } catch (e) {
        if (e instanceof AdminClientError && e.serverCode === "challenge-not-found") return false;
        throw e;
      }
    },
    async listChallenges() {
      return (await json<{ challenges: ChallengeInfo[] }>(await call("GET", "/v1/challenges"))).challenges;
    },
    async health() {
      return json<AdminHealth>(await call("GET", "/healthz", undefined, false));
    },
    async getRoutes() {
      return json<RouteTableDocument>(await call("GET", "/v1/routes"));
    },
    async listCertificates() {
      return (await json<{ certificates: CertificateStatus[] }>(await call("GET", "/v1/certificates")))
        .certificates;
    },
    async getCertificate(name) {
      return json<CertificateStatus>(await call("GET", `/v1/certificates/${encodeURIComponent(name)}`));
    },
    async renewCertificate(name) {
      return json<CertificateStatus>(
        await call("POST", `/v1/certificates/${encodeURIComponent(name)}/renew`),
      );
    },
    async setRoutes(table) {
      return json<RouteTableDocument>(await call("PUT", "/v1/routes", table));
    },
  };
}

/** Where an admin command ({@linkcode runAdminCommand}) writes. */
export interface CommandIo {
  out(s: string): void;
  err(s: string): void;
}

/** The default admin API address. */
export const DEFAULT_ADMIN_URL = "http://127.0.0.1:9180";

/** What {@linkcode runAdminCommand} reads of a command's parsed words. */
export interface AdminCommandArgs {
  /** The subcommand; `help` prints the usage. */
  readonly action: string;
  /** `--admin URL`. */
  readonly admin?: string | undefined;
  /** `--admin-token TOKEN`. */
  readonly token?: string | undefined;
}

/** One admin API command: `alpnmux challenge`, `alpnmux certs`. */
export interface AdminCommand<A extends AdminCommandArgs> {
  /** The command word (a leading one in the arguments is skipped). */
  readonly name: string;
  readonly usage: string;
  /** Parses the words after the command word; throws `UsageError`. */
  readonly parse: (words: readonly string[]) => A;
  /** Does the subcommand; returns the exit code. What it throws is printed, exit 1. */
  readonly run: (args: A, client: AdminClient) => Promise<number>;
}

/**
 * The part every admin command shares: parses the words (usage errors and a missing token or a
 * bad admin URL print the usage, exit 2), answers `help`, finds the admin API (`--admin` or
 * `ALPNMUX_ADMIN`, `--admin-token` or `ALPNMUX_ADMIN_TOKEN`) and runs the subcommand over an
 * {@linkcode AdminClient}; a failure prints `alpnmux NAME ACTION: message`, exit 1.
 *
 * @param command The command.
 * @param args The words after `alpnmux NAME` (a leading `NAME` is skipped).
 * @param env `ALPNMUX_ADMIN` and `ALPNMUX_ADMIN_TOKEN`.
 * @param io Output.
 * @param fetchImpl The fetch to use; if absent, `globalThis.fetch`.
 * @returns The exit code: 0 done, 1 failed, 2 usage error.
 * @example
 * ```ts
 * import { runAdminCommand } from "@alpnmux/core/admin-client";
 * const code = await runAdminCommand(
 *   { name: "ping", usage: "Usage: alpnmux ping", parse: () => ({ action: "ping" }), run: () => Promise.resolve(0) },
 *   [], {}, { out: console.log, err: console.error },
 * );
 * // 2: no admin token
 * ```
 */
export async function runAdminCommand<A extends AdminCommandArgs>(
  command: AdminCommand<A>,
  args: readonly string[],
  env: { readonly ALPNMUX_ADMIN?: string | undefined; readonly ALPNMUX_ADMIN_TOKEN?: string | undefined },
  io: CommandIo,
  fetchImpl?: FetchLike,
): Promise<number> {
  const usage = (why: string) => {
    io.err(`alpnmux ${command.name}: ${why}`);
    io.err(command.usage);
    return 2;
  };
  let p: A;
  try {
    p = command.parse(args[0] === command.name ? args.slice(1) : args);
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message);
    throw e;
  }
  if (p.action === "help") {
    io.out(command.usage);
    return 0;
  }
  const token = p.token ?? env.ALPNMUX_ADMIN_TOKEN;
  if (!token) return usage("no admin token: set ALPNMUX_ADMIN_TOKEN or pass --admin-token");
  const baseUrl = p.admin ?? env.ALPNMUX_ADMIN ?? DEFAULT_ADMIN_URL;
  if (!/^https?:\/\/[^/]/i.test(baseUrl)) {
    const from = p.admin !== undefined ? "--admin" : "ALPNMUX_ADMIN";
    return usage(`${from}: ${JSON.stringify(baseUrl)} is not an http(s) URL`);
  }
  const client = createAdminClient({ baseUrl, token, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
  try {
    return await command.run(p, client);
  } catch (e) {
    const hint =
      e instanceof AdminClientError && e.code === "unauthorized"
        ? " (check --admin-token / ALPNMUX_ADMIN_TOKEN)"
        : "";
    io.err(`alpnmux ${command.name} ${p.action}: ${e instanceof Error ? e.message : String(e)}${hint}`);
    return 1;
  }
}

/** Usage text of `alpnmux challenge`. */
export const CHALLENGE_USAGE = `Usage:
  alpnmux challenge set IDENTIFIER VALUE [--ttl 10m]
  alpnmux challenge delete IDENTIFIER
  alpnmux challenge list
VALUE is what the ACME client's hook holds: the key authorization "token.thumbprint"
(lego, acme.sh), its SHA-256 digest in base64url (43 characters: uacme's AUTH) or in
colon-separated hex (dehydrated's tls-alpn-01 VALUE).
Options:
  --admin URL          admin API (env ALPNMUX_ADMIN; default ${DEFAULT_ADMIN_URL})
  --admin-token TOKEN  bearer token (env ALPNMUX_ADMIN_TOKEN, preferred: argv is visible to other users)
  --ttl DURATION       challenge lifetime for set, like 10m, 90s, 1h (default: the server's)
Exit status: 0 done, 1 the admin API refused or could not be reached, 2 usage error.`;

/**
 * Runs `alpnmux challenge …`: `set ID VALUE [--ttl 10m]`, `delete ID`, `list`, with
 * `--admin URL` and `--admin-token TOKEN` (or `ALPNMUX_ADMIN`, `ALPNMUX_ADMIN_TOKEN`).
 * Deleting a challenge that is not stored succeeds (exit 0) with a note, so cleanup hooks stay
 * idempotent.
 *
 * @param args The words after `alpnmux challenge` (a leading `"challenge"` is skipped).
 * @param env `ALPNMUX_ADMIN` and `ALPNMUX_ADMIN_TOKEN`.
 * @param io Where to print results (`out`) and problems (`err`), one line per call.
 * @param fetchImpl The fetch to use; if absent, `globalThis.fetch`.
 * @returns The exit code: 0 done, 1 the server refused or was unreachable, 2 usage error.
 * @example
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * import { createAdminApp } from "@alpnmux/core/admin-api";
 * import { runChallengeCommand } from "@alpnmux/core/admin-client";
 * import { MemoryChallengeStore } from "@alpnmux/core/challenge";
 * const token = "s3cret-token-0123456789";
 * const router = createRouter({ config: parseConfig({ default: "reject" }) });
 * const app = createAdminApp({ router, challenges: new MemoryChallengeStore(), token });
 * const code = await runChallengeCommand(["set", "www.example.com", "tok.thumb", "--ttl", "10m"],
 *   { ALPNMUX_ADMIN_TOKEN: token }, { out: console.log, err: console.error },
 *   (req) => app.fetch(req)); // in-process; omit to use globalThis.fetch
 * // code === 0
 * ```
 */
export async function runChallengeCommand(
  args: readonly string[],
  env: { readonly ALPNMUX_ADMIN?: string | undefined; readonly ALPNMUX_ADMIN_TOKEN?: string | undefined },
  io: CommandIo,
  fetchImpl?: FetchLike,
): Promise<number> {
  async function runChallenge(p: ChallengeArgs, client: AdminClient): Promise<number> {
    if (p.action === "set") {
      const r = await client.setChallenge(p.identifier as string, p.value as string, p.ttlSeconds);
      io.out(
        `${r.created ? "set" : "replaced"} challenge for ${r.identifier}, ${r.expiresAt ? `expires ${r.expiresAt}` : "no expiry"}`,
      );
    } else if (p.action === "delete") {
      const id = p.identifier as string;
      io.out(
        (await client.deleteChallenge(id))
          ? `deleted challenge for ${id}`
          : `no challenge for ${id} (nothing to delete)`,
      );
    } else {
      const list = await client.listChallenges();
      if (list.length === 0) io.out("no challenges");
      for (const c of list) io.out(`${c.identifier}\t${c.expiresAt ?? "no expiry"}`);
    }
    return 0;
  }

  return runAdminCommand(
    { name: "challenge", usage: CHALLENGE_USAGE, parse: parseChallengeArgs, run: runChallenge },
    args,
    env,
    io,
    fetchImpl,
  );
}

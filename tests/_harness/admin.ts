/**
 * @module admin — helpers for the built-in responder and admin API e2e tests: start alpnmux
 * with `--acme builtin` and an admin port, call the admin HTTP API, run `alpnmux challenge`,
 * read the per-connection log lines, scrape a Prometheus counter, and dump a PEM with openssl.
 *
 * @example
 * const r = await startBuiltinRouter(ws, { def: backend.port })
 * await adminFetch(r, 'PUT', '/v1/challenges/a.example.test', { keyAuthorization: 'tok.thumb' })
 * const cli = await challengeCli(ws, r, ['list'])
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { freePort } from "./ports.ts";
import { runProc, type Workspace } from "./proc.ts";
import { type LogLine, type Router, routerCommand, spawnRouter } from "./router.ts";

/** A bearer token of the required length (≥ 16 characters). */
export const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef";

export interface BuiltinRouter extends Router {
  /** The (first) listen port. */
  readonly port: number;
  readonly adminPort: number;
  /** `http://127.0.0.1:<adminPort>` */
  readonly adminUrl: string;
  readonly token: string;
}

export interface BuiltinRouterOptions {
  /** `--default 127.0.0.1:<def>` */
  def: number;
  /** Listen port (default: a free one). */
  port?: number;
  /** Add `--acme builtin` (default true; a config's own `acme` route is replaced by it). */
  acmeFlag?: boolean;
  /** A config document written as `<ws>/<label>.yaml` and passed with `--config`. */
  config?: Record<string, unknown>;
  label?: string;
  token?: string;
  /** Extra environment for the router process. */
  env?: Record<string, string>;
}

/** Starts alpnmux with the built-in responder, JSON debug logs and an admin API on a free port. */
export async function startBuiltinRouter(ws: Workspace, o: BuiltinRouterOptions): Promise<BuiltinRouter> {
  const port = o.port ?? (await freePort());
  const adminPort = await freePort();
  const label = o.label ?? "alpnmux";
  const token = o.token ?? ADMIN_TOKEN;
  const args = ["--listen", `127.0.0.1:${port}`];
  if (o.acmeFlag ?? true) args.push("--acme", "builtin");
  args.push("--default", `127.0.0.1:${o.def}`, "--admin", `127.0.0.1:${adminPort}`);
  args.push("--hello-timeout", "2s", "--log-format", "json", "--log-level", "debug");
  if (o.config !== undefined) {
    const file = path.join(ws.dir, `${label}.yaml`);
    fs.writeFileSync(file, JSON.stringify(o.config, null, 2));
    args.push("--config", file);
  }
  const r = await spawnRouter(ws, args, {
    label,
    env: { ...o.env, ALPNMUX_ADMIN_TOKEN: token },
    waitPorts: [port, adminPort],
  });
  return Object.assign(r, { port, adminPort, adminUrl: `http://127.0.0.1:${adminPort}`, token });
}

export interface AdminResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined if it is not JSON. */
  json: unknown;
}

/**
 * One admin API call. `body`: an object is sent as JSON, a string as is (with
 * `content-type: application/json` unless `contentType` says otherwise). `token: null` sends no
 * Authorization header.
 */
export async function adminFetch(
  r: Pick<BuiltinRouter, "adminUrl" | "token">,
  method: string,
  urlPath: string,
  body?: unknown,
  opts: { token?: string | null; contentType?: string } = {},
): Promise<AdminResponse> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? r.token : opts.token;
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    headers["content-type"] = opts.contentType ?? "application/json";
  }
  const res = await fetch(`${r.adminUrl}${urlPath}`, {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** `error` of an admin JSON error body (empty object if absent). */
export function apiError(res: AdminResponse): {
  code?: string;
  message?: string;
  path?: string;
  issues?: { path: string; message: string }[];
} {
  const j = res.json as { error?: Record<string, unknown> } | undefined;
  return (j?.error ?? {}) as ReturnType<typeof apiError>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `alpnmux challenge ARGS --admin <adminUrl>` with `ALPNMUX_ADMIN_TOKEN` set to the
 * router's token (unless `env` overrides it).
 */
export async function challengeCli(
  ws: Workspace,
  r: Pick<BuiltinRouter, "adminUrl" | "token">,
  args: string[],
  opts: { env?: Record<string, string | undefined>; admin?: string | null; label?: string } = {},
): Promise<CliResult> {
  const admin =
    opts.admin === undefined ? ["--admin", r.adminUrl] : opts.admin === null ? [] : ["--admin", opts.admin];
  const res = await runProc(
    ws,
    opts.label ?? "challenge-cli",
    [...routerCommand(), "challenge", ...args, ...admin],
    {
      env: { ALPNMUX_ADMIN_TOKEN: r.token, ALPNMUX_ADMIN: undefined, ...opts.env },
      timeoutMs: 20_000,
    },
  );
  return { code: res.code, stdout: res.stdout, stderr: res.stderr };
}

/** The properties of one `alpnmux.connection` log line. */
export interface ConnLine {
  client: string;
  sni: string | null;
  alpn: string[] | null;
  route: string | null;
  upstream: string | null;
  outcome: string;
  end: string | null;
  error: string | null;
}

/** Every per-connection log line so far. */
export function connLines(r: Pick<Router, "logs">): ConnLine[] {
  return r.logs().flatMap((l: LogLine) => {
    if (l["logger"] !== "alpnmux.connection") return [];
    const p = l["properties"];
    return p && typeof p === "object" && "outcome" in p ? [p as ConnLine] : [];
  });
}

/** Waits until `pred` holds for some connection line (the log is written after the close). */
export async function waitConn(
  r: Pick<Router, "logs">,
  pred: (c: ConnLine) => boolean,
  timeoutMs = 5000,
): Promise<ConnLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = connLines(r).find(pred);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) {
      throw new Error(
        `no connection log line matched within ${timeoutMs} ms; have: ${JSON.stringify(connLines(r).map((c) => [c.sni, c.route, c.outcome]))}`,
      );
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** The value of one Prometheus sample (`name{labels}`), 0 if absent. */
export function metricValue(text: string, sample: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

/** The first PEM certificate in `text`, or undefined. */
export function firstPem(text: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(text)?.[0];
}

/** `openssl x509 -noout -text` of a PEM certificate (text). */
export function x509Text(pem: string): string {
  return execFileSync("openssl", ["x509", "-noout", "-text"], { input: pem, encoding: "utf8" });
}

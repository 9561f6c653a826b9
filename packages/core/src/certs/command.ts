/**
 * `alpnmux certs list [--json]` and `alpnmux certs renew NAME [--timeout 5m]`, over the admin
 * API found as `alpnmux challenge` finds it (`--admin URL` or `ALPNMUX_ADMIN`, `--admin-token`
 * or `ALPNMUX_ADMIN_TOKEN`). `renew` waits for the outcome: exit 0 issued (or shared), 1 failed
 * (the CA's problems printed) or still running at the timeout, 2 usage.
 *
 * @example
 * ```ts
 * import { formatCertificateTable } from "@alpnmux/core/certs";
 * console.log(formatCertificateTable([]).split("\n")[0]); // the header line
 * ```
 *
 * @module certs/command
 */

import {
  type AdminClient,
  type CommandIo,
  DEFAULT_ADMIN_URL,
  type FetchLike,
  runAdminCommand,
} from "../admin-client.ts";
import { parseArgs, UsageError } from "../cli-args.ts";
import { parseDuration } from "../duration.ts";
import type { CertificateStatus } from "./status.ts";

/** Usage text of `alpnmux certs`. */
export const CERTS_USAGE = `Usage:
  alpnmux certs list [--json]          every configured certificate: state, notAfter, serial,
                                       next renewal and why, last result
  alpnmux certs renew NAME [--timeout 5m]
                                       order NAME now and wait for the outcome
Options:
  --admin URL          admin API (env ALPNMUX_ADMIN; default ${DEFAULT_ADMIN_URL})
  --admin-token TOKEN  bearer token (env ALPNMUX_ADMIN_TOKEN, preferred: argv is visible to other users)
Exit status: 0 done (renew: issued), 1 failed or unreachable (renew: the order failed, or still
running at --timeout), 2 usage error.`;

/** The words after `alpnmux certs`. */
export interface CertsArgs {
  readonly action: "list" | "renew" | "help";
  readonly name?: string;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly admin?: string;
  readonly token?: string;
}

/**
 * Parses the words after `alpnmux certs`.
 *
 * @param argv The words.
 * @returns The subcommand.
 * @throws {UsageError} Unknown subcommand or flag, missing NAME, bad `--timeout`.
 * @example
 * ```ts
 * import { parseCertsArgs } from "@alpnmux/core/certs";
 * parseCertsArgs(["renew", "web", "--timeout", "2m"]).timeoutMs; // 120000
 * ```
 */
export function parseCertsArgs(argv: readonly string[]): CertsArgs {
  const p = parseArgs(argv, { values: ["--admin", "--admin-token", "--timeout"], switches: ["--json"] });
  const base = { json: p.values.has("--json") };
  if (p.help) return { action: "help", ...base, timeoutMs: 0 };
  const [action, ...rest] = p.args;
  if (action === undefined) throw new UsageError("missing-argument", "missing command (list or renew)");
  if (action !== "list" && action !== "renew") {
    throw new UsageError("unknown-command", `unknown command ${JSON.stringify(action)}`);
  }
  const want = action === "renew" ? 1 : 0;
  if (rest.length !== want) {
    throw new UsageError(
      rest.length < want ? "missing-argument" : "unexpected-argument",
      action === "renew" ? `renew takes one NAME, got ${rest.length}` : "list takes no arguments",
    );
  }
  let timeoutMs = 300_000;
  const t = p.values.get("--timeout")?.at(-1);
  if (t !== undefined) {
    const ms = parseDuration(t);
    if (ms === null || ms < 1000) {
      throw new UsageError(
        "bad-value",
        `--timeout: ${JSON.stringify(t)} is not a duration of 1s or more (like 5m)`,
        {
          flag: "--timeout",
        },
      );
    }
    timeoutMs = ms;
  }
  const admin = p.values.get("--admin")?.at(-1);
  const token = p.values.get("--admin-token")?.at(-1);
  return {
    action,
    ...base,
    timeoutMs,
    ...(rest[0] !== undefined ? { name: rest[0] } : {}),
    ...(admin !== undefined ? { admin } : {}),
    ...(token !== undefined ? { token } : {}),
  };
}

function lastText(s: CertificateStatus): string {
  const r = s.lastResult;
  if (r === null) return "-";
  const deploy = r.deployExitCode === undefined ? "" : `, deploy exit ${r.deployExitCode}`;
  const why = r.outcome === "failed" && r.message ? `: ${r.message}` : "";
  return `${r.outcome} ${r.at}${deploy}${why}`;
}

/**
 * The `certs list` table: one line per certificate, columns NAME, STATE, NOT AFTER, SERIAL,
 * NEXT RENEWAL (with its reason) and LAST RESULT (with the error).
 *
 * @param list The statuses.
 * @returns Lines joined with `\n`.
 * @example
 * ```ts
 * import { formatCertificateTable } from "@alpnmux/core/certs";
 * const table = formatCertificateTable([{
 *   name: "web", identifiers: ["example.com"], state: "pending", certificate: null,
 *   nextRenewal: { at: "2026-01-01T00:00:00.000Z", reason: "missing" }, lastResult: null,
 * }]);
 * console.log(table.split("\n")[1]); // "web   pending  -          -       2026-01-01T00:00:00.000Z (missing)  -"
 * ```
 */
export function formatCertificateTable(list: readonly CertificateStatus[]): string {
  const rows = [
    ["NAME", "STATE", "NOT AFTER", "SERIAL", "NEXT RENEWAL", "LAST RESULT"],
    ...list.map((s) => [
      s.name,
      s.state,
      s.certificate?.notAfter ?? "-",
      s.certificate?.serial ?? "-",
      s.nextRenewal ? `${s.nextRenewal.at} (${s.nextRenewal.reason})` : s.state === "renewing" ? "now" : "-",
      lastText(s),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** How `runCertsCommand` waits (tests pass a fast one). */
export interface CertsCommandOptions {
  readonly fetch?: FetchLike;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Poll interval of `renew`; default 1 s. */
  readonly pollMs?: number;
}

/**
 * Runs `alpnmux certs …`.
 *
 * @param args The words after `alpnmux certs`.
 * @param env `ALPNMUX_ADMIN`, `ALPNMUX_ADMIN_TOKEN`.
 * @param io Output.
 * @param options fetch, sleep, clock.
 * @returns The exit code.
 * @example
 * ```ts
 * import { runCertsCommand } from "@alpnmux/core/certs";
 * const code = await runCertsCommand(["list"], {}, { out: console.log, err: console.error });
 * // 2: no admin token
 * ```
 */
export async function runCertsCommand(
  args: readonly string[],
  env: { readonly ALPNMUX_ADMIN?: string | undefined; readonly ALPNMUX_ADMIN_TOKEN?: string | undefined },
  io: CommandIo,
  options: CertsCommandOptions = {},
): Promise<number> {
  async function runCerts(p: CertsArgs, client: AdminClient): Promise<number> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const now = options.now ?? Date.now;
    if (p.action === "list") {
      const list = await client.listCertificates();
      if (p.json) io.out(JSON.stringify({ certificates: list }, null, 2));
      else if (list.length === 0) io.out("no certificates configured");
      else io.out(formatCertificateTable(list));
      return 0;
    }
    const name = p.name as string;
    const before = await client.getCertificate(name);
    let s = await client.renewCertificate(name);
    const deadline = now() + p.timeoutMs;
    // Done when no order runs and the last result is newer than the one before ours.
    while (s.state === "renewing" || s.lastResult?.at === before.lastResult?.at) {
      if (now() >= deadline) {
        io.err(`alpnmux certs renew: ${name} is still renewing after ${Math.round(p.timeoutMs / 1000)} s`);
        return 1;
      }
      await sleep(options.pollMs ?? 1000);
      s = await client.getCertificate(name);
    }
    if (p.json) io.out(JSON.stringify(s, null, 2));
    const r = s.lastResult;
    if (r?.outcome === "failed") {
      io.err(`alpnmux certs renew: ${name} failed: ${r.message ?? "(no message)"}`);
      for (const pr of r.problems ?? []) {
        const who = pr.identifier ? `${pr.identifier.value}: ` : "";
        io.err(`  ${who}${pr.type}${pr.detail ? `: ${pr.detail}` : ""}`);
      }
      return 1;
    }
    if (!p.json) {
      const deploy = r?.deployExitCode === undefined ? "" : `, deploy exit ${r.deployExitCode}`;
      io.out(
        `${name}: ${r?.outcome ?? "done"}, serial ${s.certificate?.serial ?? "-"}, notAfter ${s.certificate?.notAfter ?? "-"}${deploy}`,
      );
    }
    return 0;
  }

  return runAdminCommand(
    { name: "certs", usage: CERTS_USAGE, parse: parseCertsArgs, run: runCerts },
    args,
    env,
    io,
    options.fetch,
  );
}

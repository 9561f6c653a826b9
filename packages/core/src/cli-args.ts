/**
 * Reading the `alpnmux` command line, for every runtime and every subcommand: one tokenizer
 * ({@linkcode parseArgs}) with one set of rules and one {@linkcode UsageError}, the commands
 * ({@linkcode parseCli}, {@linkcode parseChallengeArgs}) and the help text. How run flags become
 * a config is `run-flags.ts`.
 *
 * The rules, the same for every subcommand:
 * - a flag is `--name value` or `--name=value`; the value must not be empty and may start with
 *   `-` (a base64url key authorization or token can);
 * - a flag given twice keeps its last value, except a repeatable one (`--listen`), which keeps all;
 * - `-h` is `--help`; `--` ends the flags (every later word is an argument);
 * - every other word, `-` (stdin) and `-abc` included, is an argument.
 *
 * @example
 * ```ts
 * import { parseCli, UsageError } from "@alpnmux/core";
 * try { parseCli(["--lisen", "[::]:443"]); }
 * catch (e) { if (e instanceof UsageError) console.error(e.code, e.message); } // unknown-flag, unknown flag "--lisen" (did you mean --listen?)
 * ```
 *
 * @module cli-args
 */

import { parseDuration } from "./duration.ts";
import type { RunFlags } from "./run-flags.ts";

/** Why a command line cannot be used. */
export type UsageErrorCode =
  | "unknown-command"
  | "unknown-flag"
  | "missing-value"
  | "bad-value"
  | "missing-argument"
  | "unexpected-argument";

/** One problem of a command line: the flag at fault (if one) and the whole message line. */
export interface UsageIssue {
  /** The flag, e.g. `--admin-token`; absent for problems with the arguments. */
  readonly flag?: string;
  /** The message, e.g. `--admin-token: must be at least 16 characters`. */
  readonly message: string;
}

/**
 * A command line that cannot be used: an unknown command or flag, a missing or refused value,
 * too many or too few arguments. `message` has one line per issue; a refused value reads
 * `--flag: reason`.
 *
 * @example
 * ```ts
 * import { parseCli, UsageError } from "@alpnmux/core";
 * try { parseCli(["--listen"]); }
 * catch (e) { if (e instanceof UsageError) console.error(e.code, e.flag); } // "missing-value" "--listen"
 * ```
 */
export class UsageError extends TypeError {
  /** Stable code. */
  readonly code: UsageErrorCode;
  /** Every problem found, at least one. */
  readonly issues: readonly UsageIssue[];
  /** The flag at fault when there is exactly one issue and it has a flag. */
  readonly flag: string | undefined;
  /**
   * @param code Stable code.
   * @param issues The problems, or one message.
   * @param options `flag`: the flag of a one-message error; `cause`: e.g. the config file's own
   *   problems found alongside.
   */
  constructor(
    code: UsageErrorCode,
    issues: string | readonly UsageIssue[],
    options: { flag?: string; cause?: unknown } = {},
  ) {
    const list: readonly UsageIssue[] =
      typeof issues === "string"
        ? [{ ...(options.flag !== undefined ? { flag: options.flag } : {}), message: issues }]
        : issues;
    super(list.map((i) => i.message).join("\n"), options.cause === undefined ? {} : { cause: options.cause });
    this.name = "UsageError";
    this.code = code;
    this.issues = list;
    this.flag = list.length === 1 ? list[0]?.flag : undefined;
  }
}

/** The flags a command reads. */
export interface FlagSpec {
  /** Flags that take a value, e.g. `--listen`. `--help` (and `-h`) is always known. */
  readonly values: readonly string[];
  /** Of those, the ones that may repeat and keep every value. If absent, none. */
  readonly repeatable?: readonly string[];
  /** Flags that take no value (`--json`); given, they appear in `values` with `[""]`. */
  readonly switches?: readonly string[];
}

/** A tokenized command line. */
export interface ParsedArgs {
  /** Values by flag, in command-line order: one (the last) unless the flag is repeatable. */
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** `--help` or `-h` was given. */
  readonly help: boolean;
  /** The words that are not flags or flag values. */
  readonly args: readonly string[];
}

/** A known flag within 2 edits of `name`, for "did you mean". */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    // Levenshtein distance, one row at a time.
    let row = Array.from({ length: k.length + 1 }, (_, j) => j);
    for (let i = 1; i <= name.length; i++) {
      const next = [i];
      for (let j = 1; j <= k.length; j++) {
        const sub = (row[j - 1] as number) + (name[i - 1] === k[j - 1] ? 0 : 1);
        next.push(Math.min(sub, (row[j] as number) + 1, (next[j - 1] as number) + 1));
      }
      row = next;
    }
    const d = row[k.length] as number;
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

/**
 * Splits words into flags and arguments by the rules of this module.
 *
 * @param argv The words.
 * @param spec The flags that take a value.
 * @returns Values by flag, whether help was asked for, and the arguments.
 * @throws {UsageError} `unknown-flag`, `missing-value` (also for an empty value), or `bad-value`
 *   for `--help=…`.
 * @example
 * ```ts
 * import { parseArgs } from "@alpnmux/core";
 * const p = parseArgs(["set", "a.example", "-tok.thumb", "--ttl=10m"], { values: ["--ttl"] });
 * p.args; // ["set", "a.example", "-tok.thumb"]
 * p.values.get("--ttl"); // ["10m"]
 * ```
 */
export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const values = new Map<string, string[]>();
  const args: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (word === "-h") {
      help = true;
      continue;
    }
    if (!word.startsWith("--")) {
      args.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const name = eq < 0 ? word : word.slice(0, eq);
    if (name === "--help") {
      if (eq >= 0) throw new UsageError("bad-value", "--help takes no value", { flag: name });
      help = true;
      continue;
    }
    if (spec.switches?.includes(name)) {
      if (eq >= 0) throw new UsageError("bad-value", `${name} takes no value`, { flag: name });
      values.set(name, [""]);
      continue;
    }
    if (!spec.values.includes(name)) {
      const near = nearest(name, [...spec.values, ...(spec.switches ?? [])]);
      const hint = near === undefined ? "" : ` (did you mean ${near}?)`;
      throw new UsageError("unknown-flag", `unknown flag ${JSON.stringify(name)}${hint}`, { flag: name });
    }
    const value = eq < 0 ? argv[++i] : word.slice(eq + 1);
    if (value === undefined || value === "") {
      throw new UsageError("missing-value", `${name} needs a value`, { flag: name });
    }
    const seen = values.get(name);
    if (seen && spec.repeatable?.includes(name)) seen.push(value);
    else values.set(name, [value]);
  }
  return { values, help, args };
}

/** What the command line asks for. */
export type CliCommand =
  | { readonly command: "run"; readonly flags: RunFlags }
  | { readonly command: "check"; readonly file: string }
  | { readonly command: "hello"; readonly file: string }
  | { readonly command: "challenge"; readonly args: string[] }
  | { readonly command: "certs"; readonly args: string[] }
  | { readonly command: "help" }
  | { readonly command: "version" };

/** The `--help` text. */
export const USAGE = `alpnmux: TLS :443 router for ACME TLS-ALPN-01 without downtime

Usage:
  alpnmux [run] [flags]            start the router (embedded default config unless --config)
  alpnmux check FILE               validate a config file and exit
  alpnmux hello [FILE|-]           describe a captured first flight as JSON (stdin if no FILE)
  alpnmux challenge set ID VALUE [--ttl 10m] | delete ID | list
                                   manage built-in responder challenges over the admin API
                                   (VALUE: key authorization, or its SHA-256 as base64url or hex)
  alpnmux certs list [--json] | renew NAME [--timeout 5m]
                                   the certificates alpnmux orders itself (config certificates:)

Run flags:
  --config FILE                    YAML config file (flags below override it)
  --listen ADDR                    listen address, repeatable (e.g. [::]:443, 0.0.0.0:443)
  --acme ADDR|builtin              where ALPN acme-tls/1 goes: an ACME client's TLS server, or the built-in responder
  --default ADDR                   where everything else goes (your HTTPS server)
  --default-proxy none|v1|v2       PROXY protocol header for the default route
  --hello-timeout DURATION         close clients that send no complete ClientHello in time (default 10s)
  --workers N|auto                 processes sharing the listen sockets (default 1; auto: one per core)
  --admin ADDR                     admin API address (default 127.0.0.1:9180 when --acme builtin)
  --admin-token TOKEN              admin bearer token (or ALPNMUX_ADMIN_TOKEN, or --admin-token-file)
  --admin-token-file FILE          file holding the admin bearer token
  --log-level LEVEL                trace|debug|info|warning|error|fatal (default info)
  --log-format auto|json|pretty    log line format (default auto: pretty on a terminal, else JSON)

Exit status: 0 done, 1 the config or the listeners failed, 2 the command line is wrong.
`;

/** Each run flag and the {@linkcode RunFlags} field it sets. */
const RUN_FLAGS = {
  "--config": "config",
  "--listen": "listen",
  "--acme": "acme",
  "--default": "default",
  "--default-proxy": "defaultProxy",
  "--hello-timeout": "helloTimeout",
  "--workers": "workers",
  "--log-level": "logLevel",
  "--log-format": "logFormat",
  "--admin": "admin",
  "--admin-token": "adminToken",
  "--admin-token-file": "adminTokenFile",
} as const satisfies Record<string, keyof RunFlags>;

const RUN_SPEC: FlagSpec = { values: Object.keys(RUN_FLAGS), repeatable: ["--listen"] };

function onlyArgs(command: string, p: ParsedArgs, min: number, max: number, shape: string): void {
  if (p.args.length < min) throw new UsageError("missing-argument", `${command} takes ${shape}`);
  if (p.args.length > max) {
    throw new UsageError(
      "unexpected-argument",
      `${command} takes ${shape}; unexpected ${JSON.stringify(p.args[max])}`,
    );
  }
}

/**
 * Parses `argv` (without the program name).
 *
 * @param argv Arguments.
 * @returns The command. `challenge` keeps its words for {@linkcode parseChallengeArgs}.
 * @throws {UsageError} For an unknown command or flag, a missing value, or wrong arguments.
 * @example
 * ```ts
 * import { parseCli } from "@alpnmux/core";
 * parseCli(["--listen", "[::]:443", "--acme", "127.0.0.1:10443"]);
 * ```
 */
export function parseCli(argv: readonly string[]): CliCommand {
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h" || first === "help") return { command: "help" };
  if (first === "--version" || first === "version") return { command: "version" };
  if (first === "challenge") return { command: "challenge", args: rest };
  if (first === "certs") return { command: "certs", args: rest };
  if (first === "check" || first === "hello") {
    const p = parseArgs(rest, { values: [] });
    if (p.help) return { command: "help" };
    if (first === "check") {
      onlyArgs("check", p, 1, 1, "one FILE");
      return { command: "check", file: p.args[0] as string };
    }
    onlyArgs("hello", p, 0, 1, "at most one FILE");
    return { command: "hello", file: p.args[0] ?? "-" };
  }
  if (first !== undefined && first !== "run" && !first.startsWith("-")) {
    throw new UsageError("unknown-command", `unknown command ${JSON.stringify(first)}`);
  }
  const p = parseArgs(first === "run" ? rest : argv, RUN_SPEC);
  if (p.help) return { command: "help" };
  const stray = p.args[0];
  if (stray !== undefined) {
    if (stray.startsWith("-") && stray !== "-") {
      throw new UsageError("unknown-flag", `unknown flag ${JSON.stringify(stray)}`, { flag: stray });
    }
    throw new UsageError("unexpected-argument", `unexpected argument ${JSON.stringify(stray)}`);
  }
  const flags: RunFlags = { listen: [] };
  for (const [name, key] of Object.entries(RUN_FLAGS)) {
    const v = p.values.get(name);
    if (v === undefined) continue;
    if (key === "listen") flags.listen.push(...v);
    else flags[key] = v[v.length - 1] as string;
  }
  return { command: "run", flags };
}

/** What `alpnmux challenge …` asks for (see {@linkcode parseChallengeArgs}). */
export interface ChallengeArgs {
  /** The subcommand; `help` for `--help`. */
  readonly action: "set" | "delete" | "list" | "help";
  /** The ACME identifier (`set`, `delete`). */
  readonly identifier?: string;
  /**
   * The challenge value (`set`): a key authorization, or its SHA-256 digest as base64url or
   * colon-separated hex (checked by the server, see `parseChallengeValue()`).
   */
  readonly value?: string;
  /** `--ttl` in seconds (`set` only); if absent, the server's default. */
  readonly ttlSeconds?: number;
  /** `--admin URL`; if absent, the caller's default. */
  readonly admin?: string;
  /** `--admin-token TOKEN`; if absent, the caller's default. */
  readonly token?: string;
}

const CHALLENGE_SHAPE = { set: "IDENTIFIER VALUE", delete: "IDENTIFIER", list: "no arguments" };

/**
 * Parses the words after `alpnmux challenge`: `set ID VALUE [--ttl 10m]`, `delete ID`, `list`,
 * each with `--admin URL` and `--admin-token TOKEN`.
 *
 * @param argv The words after `challenge`.
 * @returns The subcommand and its values.
 * @throws {UsageError} For an unknown subcommand or flag, wrong arguments, or a bad `--ttl`.
 * @example
 * ```ts
 * import { parseChallengeArgs } from "@alpnmux/core";
 * parseChallengeArgs(["set", "a.example", "tok.thumb", "--ttl", "10m"]);
 * // { action: "set", identifier: "a.example", value: "tok.thumb", ttlSeconds: 600 }
 * ```
 */
export function parseChallengeArgs(argv: readonly string[]): ChallengeArgs {
  const p = parseArgs(argv, { values: ["--admin", "--admin-token", "--ttl"] });
  if (p.help) return { action: "help" };
  const [action, ...rest] = p.args;
  if (action === undefined) throw new UsageError("missing-argument", "missing command (set, delete or list)");
  if (action !== "set" && action !== "delete" && action !== "list") {
    throw new UsageError("unknown-command", `unknown command ${JSON.stringify(action)}`);
  }
  const want = { set: 2, delete: 1, list: 0 }[action];
  if (rest.length !== want) {
    const got = `got ${rest.length} argument${rest.length === 1 ? "" : "s"}`;
    throw new UsageError(
      rest.length < want ? "missing-argument" : "unexpected-argument",
      `${action} takes ${CHALLENGE_SHAPE[action]}, ${got}`,
    );
  }
  const one = (name: string) => p.values.get(name)?.at(-1);
  let ttlSeconds: number | undefined;
  const ttl = one("--ttl");
  if (ttl !== undefined) {
    if (action !== "set") throw new UsageError("bad-value", "--ttl: only applies to set", { flag: "--ttl" });
    const ms = parseDuration(ttl);
    if (ms === null || ms < 1000) {
      throw new UsageError(
        "bad-value",
        `--ttl: ${JSON.stringify(ttl)} is not a duration of 1s or more (like 10m)`,
        { flag: "--ttl" },
      );
    }
    ttlSeconds = ms / 1000;
  }
  const admin = one("--admin");
  const token = one("--admin-token");
  return {
    action,
    ...(rest[0] !== undefined ? { identifier: rest[0] } : {}),
    ...(rest[1] !== undefined ? { value: rest[1] } : {}),
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
    ...(admin !== undefined ? { admin } : {}),
    ...(token !== undefined ? { token } : {}),
  };
}

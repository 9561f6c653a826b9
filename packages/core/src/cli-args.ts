/**
 * Command-line parsing shared by every runtime's `alpnmux` command: the subcommand, and the
 * flags for the common case merged onto a config document (file or embedded default).
 *
 * @module cli-args
 */

/** Flags of the run command, before they are merged into a config. */
export interface RunFlags {
  config?: string;
  listen: string[];
  acme?: string;
  default?: string;
  defaultProxy?: string;
  helloTimeout?: string;
  logLevel?: string;
  logFormat?: string;
  admin?: string;
  adminToken?: string;
  adminTokenFile?: string;
}

/** What the command line asks for. */
export type CliCommand =
  | { readonly command: "run"; readonly flags: RunFlags }
  | { readonly command: "check"; readonly file: string }
  | { readonly command: "hello"; readonly file: string }
  | { readonly command: "challenge"; readonly args: string[] }
  | { readonly command: "help" }
  | { readonly command: "version" };

/** A command line that cannot be understood.
 *
 * @example
 * ```ts
 * import { parseCli, UsageError } from "@alpnmux/core";
 * try { parseCli(["--nope"]); } catch (e) { if (e instanceof UsageError) console.error(e.message); }
 * ```
 */
export class UsageError extends TypeError {
  /** Stable code. */
  readonly code = "usage";
  /** @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The `--help` text. */
export const USAGE = `alpnmux: TLS :443 router for ACME TLS-ALPN-01 without downtime

Usage:
  alpnmux [run] [flags]            start the router (embedded default config unless --config)
  alpnmux check FILE               validate a config file and exit
  alpnmux hello [FILE|-]           describe a captured first flight as JSON (stdin if no FILE)
  alpnmux challenge set ID KEYAUTH [--ttl 10m] | delete ID | list
                                   manage built-in responder challenges over the admin API

Run flags:
  --config FILE                    YAML config file (flags below override it)
  --listen ADDR                    listen address, repeatable (e.g. [::]:443, 0.0.0.0:443)
  --acme ADDR|builtin              where ALPN acme-tls/1 goes: an ACME client's TLS server, or the built-in responder
  --default ADDR                   where everything else goes (your HTTPS server)
  --default-proxy none|v1|v2       PROXY protocol header for the default route
  --hello-timeout DURATION         close clients that send no complete ClientHello in time (default 10s)
  --admin ADDR                     admin API address (default 127.0.0.1:9180 when --acme builtin)
  --admin-token TOKEN              admin bearer token (or ALPNMUX_ADMIN_TOKEN, or --admin-token-file)
  --log-level LEVEL                trace|debug|info|warning|error (default info)
  --log-format json|pretty         log line format (default json)
`;

const VALUE_FLAGS: Record<string, keyof RunFlags> = {
  "--config": "config",
  "--listen": "listen",
  "--acme": "acme",
  "--default": "default",
  "--default-proxy": "defaultProxy",
  "--hello-timeout": "helloTimeout",
  "--log-level": "logLevel",
  "--log-format": "logFormat",
  "--admin": "admin",
  "--admin-token": "adminToken",
  "--admin-token-file": "adminTokenFile",
};

/**
 * Parses `argv` (without the program name).
 *
 * @param argv Arguments.
 * @returns The command.
 * @throws {UsageError} For unknown flags or missing values.
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
  if (first === "check") {
    if (rest.length !== 1) throw new UsageError("check takes one FILE");
    return { command: "check", file: rest[0] as string };
  }
  if (first === "hello") {
    if (rest.length > 1) throw new UsageError("hello takes at most one FILE");
    return { command: "hello", file: rest[0] ?? "-" };
  }
  if (first === "challenge") return { command: "challenge", args: rest };
  const args = first === "run" ? rest : argv;
  const flags: RunFlags = { listen: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = VALUE_FLAGS[name];
    if (!key) throw new UsageError(`unknown ${a.startsWith("-") ? "flag" : "argument"} ${JSON.stringify(a)}`);
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      value = args[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
    }
    if (key === "listen") flags.listen.push(value);
    else flags[key] = value;
  }
  return { command: "run", flags };
}

/**
 * Merges run flags onto a config document (as read from YAML, before checking). `--acme`
 * replaces or adds the route named `acme` (first in the table); `--default` sets the default
 * route (no PROXY header unless `--default-proxy`); `--listen` replaces the listen list.
 *
 * @param doc The config document (not modified).
 * @param flags Parsed flags.
 * @returns A new document to pass to `parseConfig`.
 * @example
 * ```ts
 * import { applyRunFlags, parseConfig } from "@alpnmux/core";
 * const doc = applyRunFlags({}, { listen: ["127.0.0.1:8443"], default: "127.0.0.1:9443", defaultProxy: "v2" });
 * parseConfig(doc).default; // { upstream: { host: "127.0.0.1", port: 9443 }, proxy: "v2", tlvs: [] }
 * ```
 */
export function applyRunFlags(doc: unknown, flags: RunFlags): Record<string, unknown> {
  const out: Record<string, unknown> =
    doc && typeof doc === "object" && !Array.isArray(doc)
      ? structuredClone(doc as Record<string, unknown>)
      : {};
  if (flags.listen.length) out["listen"] = flags.listen;
  if (flags.helloTimeout !== undefined) out["helloTimeout"] = flags.helloTimeout;
  if (flags.acme !== undefined) {
    const routes = Array.isArray(out["routes"]) ? [...(out["routes"] as unknown[])] : [];
    const target = flags.acme === "builtin" ? { acme: "builtin" } : { upstream: flags.acme };
    const route = { name: "acme", match: { acme: "exact" }, target };
    const i = routes.findIndex((r) => (r as { name?: unknown })?.name === "acme");
    if (i >= 0) routes[i] = route;
    else routes.unshift(route);
    out["routes"] = routes;
  }
  if (flags.default !== undefined) {
    // --default describes the default route completely: no PROXY header unless --default-proxy.
    out["default"] = { upstream: flags.default, proxy: flags.defaultProxy ?? "none" };
  } else if (flags.defaultProxy !== undefined) {
    const prev = out["default"];
    const base = prev && typeof prev === "object" ? { ...(prev as Record<string, unknown>) } : {};
    base["proxy"] = flags.defaultProxy;
    if (flags.defaultProxy !== "v2") delete base["tlvs"];
    out["default"] = base;
  }
  if (flags.logLevel !== undefined || flags.logFormat !== undefined) {
    const log = { ...((out["log"] as Record<string, unknown> | undefined) ?? {}) };
    if (flags.logLevel !== undefined) log["level"] = flags.logLevel;
    if (flags.logFormat !== undefined) log["format"] = flags.logFormat;
    out["log"] = log;
  }
  if (flags.admin !== undefined || flags.adminToken !== undefined || flags.adminTokenFile !== undefined) {
    const admin = { ...((out["admin"] as Record<string, unknown> | undefined) ?? {}) };
    if (flags.admin !== undefined) admin["listen"] = flags.admin;
    if (flags.adminToken !== undefined) admin["token"] = flags.adminToken;
    if (flags.adminTokenFile !== undefined) admin["tokenFile"] = flags.adminTokenFile;
    out["admin"] = admin;
  }
  return out;
}

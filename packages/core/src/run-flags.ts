/**
 * The run command's flags as a config: {@linkcode applyRunFlags} merges them onto the config
 * document (file or embedded default), and {@linkcode attributeIssues} traces the merged
 * config's problems back to the flag that set the value, so a bad flag is reported as
 * `--flag: reason` and a bad file keeps its own paths.
 *
 * @module run-flags
 */

import type { UsageIssue } from "./cli-args.ts";
import type { ConfigIssue } from "./config.ts";

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
  workers?: string;
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
  const out: Record<string, unknown> = isRecord(doc) ? structuredClone(doc) : {};
  if (flags.listen.length) out["listen"] = flags.listen;
  if (flags.helloTimeout !== undefined) out["helloTimeout"] = flags.helloTimeout;
  if (flags.workers !== undefined) {
    out["workers"] = /^\d{1,4}$/.test(flags.workers) ? Number(flags.workers) : flags.workers;
  }
  if (flags.acme !== undefined) {
    const routes = Array.isArray(out["routes"]) ? [...(out["routes"] as unknown[])] : [];
    const target = flags.acme === "builtin" ? { acme: "builtin" } : { upstream: flags.acme };
    const route = { name: "acme", match: { acme: "exact" }, target };
    const i = acmeRouteIndex(routes);
    if (i >= 0) routes[i] = route;
    else routes.unshift(route);
    out["routes"] = routes;
  }
  if (flags.default !== undefined) {
    // --default describes the default route completely: no PROXY header unless --default-proxy.
    out["default"] = { upstream: flags.default, proxy: flags.defaultProxy ?? "none" };
  } else if (flags.defaultProxy !== undefined) {
    const prev = out["default"];
    const base = isRecord(prev) ? { ...prev } : {};
    base["proxy"] = flags.defaultProxy;
    if (flags.defaultProxy !== "v2") delete base["tlvs"];
    out["default"] = base;
  }
  if (flags.logLevel !== undefined || flags.logFormat !== undefined) {
    const log = isRecord(out["log"]) ? { ...out["log"] } : {};
    if (flags.logLevel !== undefined) log["level"] = flags.logLevel;
    if (flags.logFormat !== undefined) log["format"] = flags.logFormat;
    out["log"] = log;
  }
  if (flags.admin !== undefined || flags.adminToken !== undefined || flags.adminTokenFile !== undefined) {
    const admin = isRecord(out["admin"]) ? { ...out["admin"] } : {};
    if (flags.admin !== undefined) admin["listen"] = flags.admin;
    if (flags.adminToken !== undefined) admin["token"] = flags.adminToken;
    if (flags.adminTokenFile !== undefined) admin["tokenFile"] = flags.adminTokenFile;
    out["admin"] = admin;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function acmeRouteIndex(routes: readonly unknown[]): number {
  return routes.findIndex((r) => isRecord(r) && r["name"] === "acme");
}

/**
 * Traces the problems `parseConfig` found in `applyRunFlags(doc, flags)` back to where each
 * value came from: a value a flag set is reported as `--flag: reason`; the rest belong to the
 * file, with route indices as they are in the file (a route `--acme` put first shifts them).
 *
 * @param issues The problems of the merged document.
 * @param doc The document before the flags.
 * @param flags The flags merged onto it.
 * @returns `flags`: the flags' problems; `file`: the file's.
 * @example
 * ```ts
 * import { applyRunFlags, attributeIssues, ConfigError, parseConfig } from "@alpnmux/core";
 * const flags = { listen: [], adminToken: "short" };
 * try { parseConfig(applyRunFlags({ default: "reject" }, flags)); }
 * catch (e) {
 *   if (e instanceof ConfigError) attributeIssues(e.issues, {}, flags).flags[0]?.message; // "--admin-token: …"
 * }
 * ```
 */
export function attributeIssues(
  issues: readonly ConfigIssue[],
  doc: unknown,
  flags: RunFlags,
): { flags: UsageIssue[]; file: ConfigIssue[] } {
  const fileRoutes = isRecord(doc) && Array.isArray(doc["routes"]) ? doc["routes"] : [];
  const replaced = acmeRouteIndex(fileRoutes);
  const acmeAt = flags.acme === undefined ? -1 : Math.max(replaced, 0);
  const shift = flags.acme !== undefined && replaced < 0 ? 1 : 0;
  const set: Record<string, string | undefined> = {
    listen: flags.listen.length ? "--listen" : undefined,
    helloTimeout: flags.helloTimeout !== undefined ? "--hello-timeout" : undefined,
    workers: flags.workers !== undefined ? "--workers" : undefined,
    "default.proxy": flags.defaultProxy !== undefined ? "--default-proxy" : undefined,
    default: flags.default !== undefined ? "--default" : undefined,
    "log.level": flags.logLevel !== undefined ? "--log-level" : undefined,
    "log.format": flags.logFormat !== undefined ? "--log-format" : undefined,
    "admin.listen": flags.admin !== undefined ? "--admin" : undefined,
    "admin.tokenFile": flags.adminTokenFile !== undefined ? "--admin-token-file" : undefined,
    "admin.token": flags.adminToken !== undefined ? "--admin-token" : undefined,
  };
  const out = { flags: [] as UsageIssue[], file: [] as ConfigIssue[] };
  for (const issue of issues) {
    const route = /^routes\[(\d+)\](.*)$/s.exec(issue.path);
    let flag: string | undefined;
    if (route) {
      const k = Number(route[1]);
      if (k === acmeAt) flag = "--acme";
      else if (k > acmeAt && shift) {
        out.file.push({ ...issue, path: `routes[${k - shift}]${route[2]}` });
        continue;
      }
    } else {
      // The first path a given flag set that holds the issue: "default.proxy" before "default".
      const key = Object.keys(set).find(
        (p) =>
          set[p] !== undefined &&
          (issue.path === p || issue.path.startsWith(`${p}.`) || issue.path.startsWith(`${p}[`)),
      );
      flag = key === undefined ? undefined : set[key];
    }
    if (flag === undefined) out.file.push(issue);
    else out.flags.push({ flag, message: `${flag}: ${issue.message}` });
  }
  return out;
}

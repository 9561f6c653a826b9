/**
 * The router's configuration: a zod schema for the YAML file (and for config objects given by
 * programs), the embedded default, and `loadConfig()` that turns text into a checked
 * {@linkcode RouterConfig} or a {@linkcode ConfigError} naming the path and the reason.
 *
 * @module config
 */

import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AddressError, type HostPort, parseHostPort } from "./address.ts";
import { acmeSchema, certificatesSchema } from "./certs/schema.ts";
import { parseDuration } from "./duration.ts";
import { compileHostPattern, HostPatternError } from "./hostname.ts";
import { RedisError } from "./redis/resp.ts";
import { parseRedisUrl } from "./redis/url.ts";

/** One problem in a config: where and why. */
export interface ConfigIssue {
  /** Path such as `routes[2].target.upstream`; "" for the whole document. */
  readonly path: string;
  readonly message: string;
}

/**
 * A config that cannot be used. The message lists every issue, one per line, as
 * `path: reason`.
 *
 * @example
 * ```ts
 * import { ConfigError, parseConfig } from "@alpnmux/core";
 * try { parseConfig({ default: { upstream: "10.0.0.5" } }); }
 * catch (e) { if (e instanceof ConfigError) console.log(e.issues[0]); }
 * // { path: "default.upstream", message: "\"10.0.0.5\" has no port" }
 * ```
 */
export class ConfigError extends TypeError {
  /** Stable code. */
  readonly code: "invalid-config" | "bad-yaml";
  /** Each problem found. */
  readonly issues: readonly ConfigIssue[];
  /**
   * @param code Stable code.
   * @param issues Problems, at least one.
   * @param source Where the config came from, for the message (a file name).
   */
  constructor(code: "invalid-config" | "bad-yaml", issues: readonly ConfigIssue[], source = "config") {
    super(`Invalid ${source}:\n${issues.map((i) => `  ${i.path || "(top)"}: ${i.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.code = code;
    this.issues = issues;
  }
}

const hostPort = (allowEmptyHost: boolean) =>
  z.string().transform((s, ctx): HostPort => {
    try {
      return parseHostPort(s, { allowEmptyHost });
    } catch (e) {
      ctx.addIssue({ code: "custom", message: e instanceof AddressError ? e.message : String(e) });
      return z.NEVER;
    }
  });

/** Longest delay a timer takes in every runtime (a signed 32-bit count of milliseconds). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * A duration that bounds something (a wait, a drain, a dial), in milliseconds: more than 0
 * (a zero bound would end every connection at once, or never start one) and at most
 * {@linkcode MAX_TIMEOUT_MS} (longer timers fire at once in some runtimes).
 */
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (ms === null) return fail(`${JSON.stringify(v)} is not a duration (like "10s", "500ms", "2m")`);
  if (ms <= 0) return fail(`${JSON.stringify(v)} is not more than 0: a timeout must be positive`);
  if (ms > MAX_TIMEOUT_MS) {
    return fail(`${JSON.stringify(v)} is more than ${MAX_TIMEOUT_MS}ms (about 24.8 days), the longest timer`);
  }
  return ms;
});

/** An SNI pattern, compiled here so every bad pattern is a config error with its path. */
const hostPattern = z.string().superRefine((p, ctx) => {
  try {
    compileHostPattern(p);
  } catch (e) {
    if (!(e instanceof HostPatternError)) throw e;
    ctx.addIssue({ code: "custom", message: e.message });
  }
});

const positiveInt = z.number().int().positive();

const redisUrl = z.string().transform((s, ctx) => {
  try {
    parseRedisUrl(s);
    return s;
  } catch (e) {
    ctx.addIssue({ code: "custom", message: e instanceof RedisError ? e.message : String(e) });
    return z.NEVER;
  }
});

/** Longest unix socket path: `sun_path` holds 108 bytes, the last one a NUL (Linux). */
export const MAX_UNIX_PATH_BYTES = 107;

const unixPath = z.string().superRefine((p, ctx) => {
  const bytes = new TextEncoder().encode(p).length;
  if (p === "") ctx.addIssue({ code: "custom", message: "is empty" });
  else if (p.includes("\0")) ctx.addIssue({ code: "custom", message: "contains a NUL character" });
  else if (bytes > MAX_UNIX_PATH_BYTES) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(p)} is ${bytes} bytes, more than a unix socket path holds (${MAX_UNIX_PATH_BYTES})`,
    });
  }
});

/** A file mode as a quoted octal string ("0660"); normalised to four digits. */
const unixMode = z.unknown().transform((v, ctx) => {
  const m = typeof v === "string" ? /^(?:0o|0)?([0-7]{1,4})$/.exec(v) : null;
  if (typeof v === "number") {
    ctx.addIssue({
      code: "custom",
      message: `write the mode as a quoted octal string, like "0660" (unquoted, YAML reads ${v} as a decimal number)`,
    });
    return z.NEVER;
  }
  const n = m?.[1] === undefined ? Number.NaN : Number.parseInt(m[1], 8);
  if (!(n >= 0 && n <= 0o777)) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v)} is not a file mode: expected octal permission bits "0000" to "0777", like "0660"`,
    });
    return z.NEVER;
  }
  return `0${n.toString(8).padStart(3, "0")}`;
});

/** A user or group: a name (looked up in /etc/passwd, /etc/group) or a numeric id. */
const UNIX_ID = "expected a user or group name, or a numeric id";
const unixId = z.union(
  [
    z.number().int(UNIX_ID).min(0, UNIX_ID).max(0xfffffffe, UNIX_ID),
    z.string().regex(/^(?:\d+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/, UNIX_ID),
  ],
  {
    error: () => UNIX_ID,
  },
);

/**
 * `challenges.ualpnSocket`: a path, or `{ path, mode, owner, group }`; checked to the object
 * form with mode "0600" by default.
 */
const ualpnSocket = z
  .union(
    [
      unixPath,
      z.strictObject({
        path: unixPath,
        mode: unixMode.default("0600"),
        owner: unixId.optional(),
        group: unixId.optional(),
      }),
    ],
    {
      error: () => 'expected a socket path, or { path, mode?: "0600", owner?, group? }',
    },
  )
  .transform((v) => (typeof v === "string" ? { path: v, mode: "0600" } : v));

const proxyVersion = z.enum(["none", "v1", "v2"]);
const tlv = z.enum(["authority", "alpn"]);

const upstreamTarget = z.strictObject({
  upstream: hostPort(false),
  proxy: proxyVersion.default("none"),
  tlvs: z.array(tlv).default([]),
  connectTimeout: duration.optional(),
});

const builtinTarget = z.strictObject({
  acme: z.literal("builtin"),
  /** When no challenge is stored for the name: an external responder, or close. */
  fallback: z.union([z.literal("reject"), z.strictObject({ upstream: hostPort(false) })]).default("reject"),
});

const target = z.union([z.literal("reject"), upstreamTarget, builtinTarget], {
  error: () =>
    'expected "reject", { upstream: "host:port", proxy?, tlvs? } or { acme: "builtin", fallback? }',
});

const matcher = z
  .strictObject({
    sni: z.array(hostPattern).min(1).optional(),
    alpn: z.array(z.string().min(1)).min(1).optional(),
    acme: z.union([z.literal(true), z.enum(["exact", "contains"])]).optional(),
    noSni: z.literal(true).optional(),
    ech: z.boolean().optional(),
  })
  .refine((m) => Object.keys(m).length > 0, "a match needs at least one of sni, alpn, acme, noSni, ech");

const route = z.strictObject({
  name: z.string().min(1).optional(),
  match: matcher,
  target,
});

const logLevel = z.enum(["trace", "debug", "info", "warning", "error", "fatal"]);

/**
 * The schema of the config file. Every field but `default` has a default. Every duration must
 * be more than 0.
 *
 * - `helloTimeout` (10s): how long a client may take to send its whole hello.
 * - `connectTimeout` (5s): how long a dial to an upstream may take (a target may set its own).
 * - `drainTimeout` (30s): how long open connections may run on after a stop signal.
 * - `maxHelloBytes` (16384): most bytes a hello may take, record headers included. This also
 *   bounds the records it spans, so a hello split into many small records is read whole.
 * - `maxHelloRecords` (0): deprecated; if 0, no cap but `maxHelloBytes`. A positive value is
 *   an extra cap on the records a hello may span.
 * - `limits.maxConnections` (10000): open connections, all clients together.
 * - `limits.maxConnectionsPerIp` (0): open connections per client address; if 0, no cap
 *   (clients behind one NAT or proxy share an address). See {@linkcode limitReached}.
 * - `limits.maxHelloConnections` (2000), `limits.maxHelloConnectionsPerIp` (64): connections
 *   that have not sent their whole hello yet (this is what stops slowloris).
 * - `onNotTls` (`close`): where a first flight that is not TLS goes: closed, or `default`.
 * - `onNoSni` (`route`): a hello without SNI (a browser opening `https://203.0.113.7/`, a
 *   health check) goes through the routes (a `noSni` matcher, else the default), as HAProxy,
 *   nginx, Caddy and sslh do; `close` refuses it.
 * - `workers` (1): processes that accept connections; `auto`: one per core the runtime reports
 *   (`resolveWorkers`). With more than 1, the process started is the primary: it runs the admin
 *   API and the challenge store and spawns that many workers sharing the listen sockets
 *   (SO_REUSEPORT); 1 is a single process with no primary/worker split.
 * - `log.level` (`info`); `log.format` (`auto`): `json` lines, `pretty` text, or `auto`:
 *   pretty on a terminal, JSON otherwise (journald, files); see `resolveLogFormat`.
 * - `acme` (Let's Encrypt, storage `/var/lib/alpnmux`) and `certificates` (none): the
 *   certificates alpnmux orders and renews itself over TLS-ALPN-01 (`certs/schema.ts`); a
 *   certificate needs a route with target `{ acme: builtin }`.
 */
export const configSchema = z
  .strictObject({
    listen: z.array(hostPort(true)).min(1).prefault(["[::]:443"]),
    workers: z
      .union([z.literal("auto"), z.number().int().min(1).max(256)], {
        error: 'must be a whole number from 1 to 256, or "auto"',
      })
      .default(1),
    helloTimeout: duration.default(10_000),
    connectTimeout: duration.default(5_000),
    drainTimeout: duration.default(30_000),
    maxHelloBytes: z.number().int().min(512).max(65536).default(16384),
    maxHelloRecords: z.number().int().min(0).max(65536).default(0),
    limits: z
      .strictObject({
        maxConnections: positiveInt.default(10_000),
        maxConnectionsPerIp: z.number().int().min(0).default(0),
        maxHelloConnections: positiveInt.default(2_000),
        maxHelloConnectionsPerIp: positiveInt.default(64),
      })
      .prefault({}),
    onNotTls: z.enum(["close", "default"]).default("close"),
    onNoSni: z.enum(["close", "route"]).default("route"),
    routes: z.array(route).default([]),
    default: z.union([z.literal("reject"), upstreamTarget]),
    admin: z
      .strictObject({
        listen: hostPort(false).optional(),
        token: z.string().min(16).optional(),
        tokenFile: z.string().min(1).optional(),
      })
      .optional(),
    log: z
      .strictObject({
        level: logLevel.default("info"),
        format: z.enum(["auto", "json", "pretty"]).default("auto"),
      })
      .prefault({}),
    /**
     * Where the built-in responder's challenges live: this process, or Redis (shared by
     * instances); `ualpnSocket` also accepts them over ualpn's control protocol (uacme's
     * `ualpn.sh` hook, certbot-ualpn).
     */
    challenges: z
      .strictObject({
        store: z.enum(["memory", "redis"]).default("memory"),
        ualpnSocket: ualpnSocket.optional(),
        redis: z
          .strictObject({
            url: redisUrl,
            /** PEM file of the CA(s) that verify a `rediss:` server, read at start; default: system roots. */
            caFile: z.string().min(1).optional(),
            keyPrefix: z.string().default("alpnmux:"),
            timeout: duration.default(2_000),
          })
          .optional(),
      })
      .superRefine((c, ctx) => {
        if (c.store === "redis" && c.redis === undefined) {
          ctx.addIssue({ code: "custom", path: ["redis"], message: 'store "redis" needs redis: { url }' });
        }
      })
      .prefault({}),
    /** The ACME account the certificate manager uses (see `certs/schema.ts`). */
    acme: acmeSchema.prefault({}),
    /** Certificates alpnmux obtains and renews itself through its built-in responder. */
    certificates: certificatesSchema.default([]),
  })
  .superRefine((c, ctx) => {
    if (
      c.certificates.length > 0 &&
      !c.routes.some((r) => typeof r.target === "object" && "acme" in r.target)
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["certificates"],
        message: "needs the built-in responder (a route with target acme: builtin)",
      });
    }
    c.routes.forEach((r, i) => {
      const acmeRoute = r.match.acme !== undefined || (r.match.alpn?.includes("acme-tls/1") ?? false);
      if (typeof r.target === "object" && "upstream" in r.target && acmeRoute && r.target.proxy !== "none") {
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "target", "proxy"],
          message: "an ACME (acme-tls/1) route never gets a PROXY header: ACME responders cannot read it",
        });
      }
      if (typeof r.target === "object" && "acme" in r.target && r.match.acme === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "match"],
          message:
            'target { acme: "builtin" } needs an `acme` matcher, so challenge certificates only reach validators',
        });
      }
    });
    const targets: [(string | number)[], TargetConfig | RouterConfigDefault][] = [
      ...c.routes.map((r, i): [(string | number)[], TargetConfig] => [["routes", i, "target"], r.target]),
      [["default"], c.default],
    ];
    for (const [path, t] of targets) {
      if (typeof t === "object" && "tlvs" in t && t.tlvs.length && t.proxy !== "v2") {
        ctx.addIssue({ code: "custom", path: [...path, "tlvs"], message: "TLVs need proxy: v2" });
      }
    }
  });

/** A checked config, with durations in milliseconds and addresses parsed. */
export type RouterConfig = z.output<typeof configSchema>;
/** What a config file or object may contain before defaults are applied. */
export type RouterConfigInput = z.input<typeof configSchema>;
/** A route as checked. */
export type RouteConfig = RouterConfig["routes"][number];
/** The default target as checked. */
type RouterConfigDefault = RouterConfig["default"];
/** A route target as checked. */
export type TargetConfig = RouteConfig["target"];
/** An upstream target as checked. */
export type UpstreamTargetConfig = z.output<typeof upstreamTarget>;

/**
 * Whether a count has reached a cap where 0 means "no cap", as for
 * `limits.maxConnectionsPerIp`.
 *
 * @param count How many there are now.
 * @param cap The configured cap; if 0, no cap.
 * @returns `true` when one more must be refused.
 * @example
 * ```ts
 * import { limitReached } from "@alpnmux/core";
 * limitReached(512, 512); // true
 * limitReached(100_000, 0); // false: 0 is no cap
 * ```
 */
export function limitReached(count: number, cap: number): boolean {
  return cap > 0 && count >= cap;
}

/**
 * The embedded default: the "TLS-ALPN without downtime" recipe. ACME validations (ALPN exactly
 * `acme-tls/1`) go to an ACME client's temporary TLS server on 10443, everything else, hellos
 * without SNI included, to the HTTPS server on 8443 with PROXY v2, on IPv6 and IPv4.
 */
export const DEFAULT_CONFIG_YAML = `# alpnmux default config: the TLS-ALPN-01 recipe
listen: ["[::]:443", "0.0.0.0:443"]
helloTimeout: 10s
# Defaults worth knowing:
#   onNoSni: route     hellos without SNI (https://203.0.113.7/, health checks) go through
#                      the routes to the default; "close" refuses them
#   limits: { maxConnectionsPerIp: 0 }     0: no cap per client address (the hello-phase
#                      cap maxHelloConnectionsPerIp: 64 still stops slowloris)
#   log: { format: auto }    pretty on a terminal, JSON lines otherwise
routes:
  - name: acme
    match: { acme: exact }
    target: { upstream: "127.0.0.1:10443" }
default:
  upstream: "127.0.0.1:8443"
  proxy: v2
  tlvs: [authority, alpn]
`;

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/**
 * Checks a config object and applies defaults.
 *
 * @param input A parsed config document or an object built by a program.
 * @param source Name for messages (a file name); default "config".
 * @returns The checked config.
 * @throws {ConfigError} Naming each bad field and why.
 * @example
 * ```ts
 * import { parseConfig } from "@alpnmux/core";
 * const c = parseConfig({ default: { upstream: "127.0.0.1:8443", proxy: "v2" } });
 * c.helloTimeout; // 10000
 * ```
 */
export function parseConfig(input: unknown, source = "config"): RouterConfig {
  const r = configSchema.safeParse(input ?? {}, { reportInput: true });
  if (r.success) return r.data;
  throw new ConfigError("invalid-config", flatten(r.error.issues, []), source);
}

/**
 * Turns zod issues into path/reason pairs. For a union, the branch that got furthest (its
 * issues lie deepest) explains the problem best: `default.upstream: "10.0.0.5" has no port`
 * rather than "invalid input".
 */
function flatten(issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of issues) {
    const path = [...base, ...i.path];
    if (i.code === "invalid_union" && i.errors.length > 0) {
      if (i.input === undefined) {
        out.push({ path: pathText(path), message: "is required" });
        continue;
      }
      const depth = (b: readonly z.core.$ZodIssue[]) =>
        Math.max(
          ...b.map(
            (x) => x.path.length + (x.code === "invalid_type" || x.code === "invalid_value" ? 0 : 0.5),
          ),
        );
      const best = [...i.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (depth(best) > 0) {
        out.push(...flatten(best, path));
        continue;
      }
    }
    out.push({
      path: pathText(path),
      message: i.code === "invalid_type" && i.input === undefined ? "is required" : i.message,
    });
  }
  return out;
}

/**
 * Parses YAML config text and checks it.
 *
 * @param text YAML (JSON is YAML too).
 * @param source Name for messages (a file name); default "config".
 * @returns The checked config.
 * @throws {ConfigError} For YAML syntax errors and bad fields.
 * @example
 * ```ts
 * import { DEFAULT_CONFIG_YAML, loadConfig } from "@alpnmux/core";
 * const c = loadConfig(DEFAULT_CONFIG_YAML);
 * c.routes[0]?.name; // "acme"
 * ```
 */
export function loadConfig(text: string, source = "config"): RouterConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(
      "bad-yaml",
      [{ path: "", message: e instanceof Error ? e.message : String(e) }],
      source,
    );
  }
  return parseConfig(doc, source);
}

/**
 * The number of worker processes `workers` asks for.
 * @param workers The config's `workers`.
 * @param cores The cores the runtime reports (for `auto`); if absent or 0, 1.
 * @returns At least 1.
 * @example
 * ```ts
 * import { resolveWorkers } from "@alpnmux/core";
 * resolveWorkers("auto", 8); // 8
 * resolveWorkers(2, 8); // 2
 * ```
 */
export function resolveWorkers(workers: number | "auto", cores?: number): number {
  return workers === "auto" ? Math.max(1, Math.floor(cores ?? 1) || 1) : workers;
}

/**
 * The `alpnmux` command, runtime-agnostic: parse the command line, load and check the config,
 * assemble the instance, and drive a runtime's listeners through a small {@linkcode CliHost}.
 * A runtime adapter's CLI is then only I/O (`@alpnmux/core/cli`).
 *
 * @module cli
 */

import { getLogger } from "@logtape/logtape";
import type { Hono } from "hono";
import { parse as parseYaml } from "yaml";
import { formatHostPort } from "./address.ts";
import { runChallengeCommand } from "./admin-client.ts";
import { type AdminSettings, adminTokenProblem } from "./admin-settings.ts";
import { createInstance } from "./app.ts";
import { runCertsCommand } from "./certs/command.ts";
import type { CertHost } from "./certs/host.ts";
import type { CertificateManager } from "./certs/manager.ts";
import { parseCli, USAGE, UsageError, type UsageIssue } from "./cli-args.ts";
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  loadConfig,
  parseConfig,
  type RouterConfig,
  resolveWorkers,
} from "./config.ts";
import { helloReport } from "./hello-report.ts";
import { ListenError } from "./listen-error.ts";
import { configureLogging } from "./logging.ts";
import { renderSnapshot } from "./metrics.ts";
import type { RedisDial } from "./redis/client.ts";
import { redactRedisUrl } from "./redis/url.ts";
import type { Router } from "./router.ts";
import { applyRunFlags, attributeIssues, type RunFlags } from "./run-flags.ts";
import { Supervisor, type WorkerHost } from "./supervisor.ts";
import { serveUalpnSocket } from "./ualpn-socket.ts";
import type { UnixSocketHost, UnixSocketServer } from "./unix-socket.ts";
import { runWorker } from "./worker.ts";
import { parseWorkerEnv, WORKER_ENV_VAR } from "./worker-protocol.ts";

export {
  RESTART_MAX_MS,
  RESTART_MIN_MS,
  RESTART_RESET_MS,
  restartDelay,
  Supervisor,
  type SupervisorOptions,
  type WorkerHost,
  type WorkerProcess,
} from "./supervisor.ts";
export { serveUalpnSocket, UALPN_IDLE_TIMEOUT_MS, type UalpnSocketOptions } from "./ualpn-socket.ts";
export {
  lookupUnixId,
  serveUnixSocket,
  type UnixConnection,
  type UnixConnectionHandler,
  type UnixListener,
  UnixSocketError,
  type UnixSocketErrorCode,
  type UnixSocketHost,
  type UnixSocketOptions,
  type UnixSocketServer,
} from "./unix-socket.ts";
export { primaryStore, runWorker, type WorkerRuntime } from "./worker.ts";
export * from "./worker-protocol.ts";

/** The version printed by `--version` and `/healthz`. */
export const VERSION = "0.1.0";

/** A running listener group, as the adapter returns it. */
export interface RunningServer {
  /** Stops accepting; resolves once the listening sockets are closed. */
  close(): Promise<void>;
  stop(drainMs?: number): Promise<void>;
}

/** What the runtime provides to {@linkcode runCli}. */
export interface CliHost {
  /** e.g. `bun 1.4.5`. */
  readonly runtime: string;
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): Promise<Uint8Array>;
  readFileSync(path: string): string;
  readStdin(): Promise<Uint8Array>;
  /** A line (or lines) to stdout / stderr. */
  out(text: string): void;
  err(text: string): void;
  /** One formatted log line (newline included) to the log stream. */
  writeLog(line: string): void;
  /** Whether the log stream is a terminal (`log.format: auto` is pretty there, JSON otherwise). */
  readonly logIsTty?: boolean;
  /**
   * Binds the router's listeners (with SO_REUSEPORT when `options.reusePort`, as the workers
   * of `workers: N` do); may throw a runtime bind error.
   */
  serve(config: RouterConfig, router: Router, options?: { reusePort?: boolean }): RunningServer;
  /** This process's id (logged by workers). */
  readonly pid?: number;
  /** The cores the runtime reports (`workers: auto`); if absent, 1. */
  readonly cores?: number;
  /** Spawning workers and their control listener; if absent, `workers` above 1 is refused. */
  readonly workers?: WorkerHost;
  /** Serves the admin app; may throw a runtime bind error. Returns the bound port. */
  serveAdmin(settings: AdminSettings, app: Hono): { port: number; stop(): void };
  /** Calls `handler` on SIGTERM and SIGINT. */
  onStopSignal(handler: (signal: string) => void): void;
  /** Calls `handler` on SIGHUP (reload the config file). */
  onReloadSignal(handler: () => void): void;
  /**
   * Opens a TCP connection (for `challenges.store: redis`); if absent, a config asking for the
   * Redis store is refused.
   */
  readonly dial?: RedisDial;
  /**
   * Unix stream sockets (for `challenges.ualpnSocket`); if absent, a config asking for the
   * socket is refused.
   */
  readonly unix?: UnixSocketHost;
  /**
   * HTTPS to the ACME CA, files and a shell (for `acme:` and `certificates:`); if absent, a
   * config with `certificates` is refused.
   */
  readonly certs?: CertHost;
}

/**
 * Runs `alpnmux` with `argv` (without the program name).
 *
 * @param argv Arguments.
 * @param host Runtime I/O.
 * @returns The exit code: 0 ok, 1 failure (the config file, the listeners), 2 the command line
 *   (an unknown flag, or a flag value the config refuses: `--admin-token: must be at least 16 characters`).
 * @example
 * ```ts
 * import { type CliHost, runCli } from "@alpnmux/core/cli";
 * const lines: string[] = [];
 * // An in-memory host: capture.bin holds an HTTP request, not a TLS hello.
 * const host: CliHost = {
 *   runtime: "example",
 *   env: {},
 *   readFile: async () => new TextEncoder().encode("GET / HTTP/1.1\r\n"),
 *   readFileSync: () => "",
 *   readStdin: async () => new Uint8Array(0),
 *   out: (text) => lines.push(text),
 *   err: (text) => lines.push(text),
 *   writeLog: () => {},
 *   serve: () => { throw new Error("no listeners in this example"); },
 *   serveAdmin: () => { throw new Error("no admin server in this example"); },
 *   onStopSignal: () => {},
 *   onReloadSignal: () => {},
 *   dial: async () => { throw new Error("no TCP in this example"); },
 * };
 * const code = await runCli(["hello", "capture.bin"], host); // 1: lines hold the "not-tls" report
 * ```
 */
export async function runCli(argv: readonly string[], host: CliHost): Promise<number> {
  let cmd: ReturnType<typeof parseCli>;
  try {
    cmd = parseCli(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      host.err(`${prefixed(e.message)}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  switch (cmd.command) {
    case "help":
      host.out(USAGE);
      return 0;
    case "version":
      host.out(`alpnmux ${VERSION} (${host.runtime})`);
      return 0;
    case "hello": {
      let bytes: Uint8Array;
      try {
        bytes = cmd.file === "-" ? await host.readStdin() : await host.readFile(cmd.file);
      } catch (e) {
        host.err(`alpnmux hello: cannot read ${cmd.file}: ${(e as Error).message}`);
        return 2;
      }
      const { report, exitCode } = helloReport(bytes);
      host.out(JSON.stringify(report));
      return exitCode;
    }
    case "check":
      try {
        const c = loadConfig(new TextDecoder().decode(await host.readFile(cmd.file)), cmd.file);
        host.out(
          `${cmd.file}: ok (${c.routes.length} routes + default, listening on ${c.listen.length} addresses${c.certificates.length ? `, ${c.certificates.length} certificates` : ""})`,
        );
        return 0;
      } catch (e) {
        host.err(e instanceof ConfigError ? e.message : `Cannot read ${cmd.file}: ${(e as Error).message}`);
        return 1;
      }
    case "challenge":
      return runChallengeCommand(
        cmd.args,
        {
          ...(host.env["ALPNMUX_ADMIN"] ? { ALPNMUX_ADMIN: host.env["ALPNMUX_ADMIN"] } : {}),
          ...(host.env["ALPNMUX_ADMIN_TOKEN"]
            ? { ALPNMUX_ADMIN_TOKEN: host.env["ALPNMUX_ADMIN_TOKEN"] }
            : {}),
        },
        host,
      );
    case "certs":
      return runCertsCommand(
        cmd.args,
        {
          ...(host.env["ALPNMUX_ADMIN"] ? { ALPNMUX_ADMIN: host.env["ALPNMUX_ADMIN"] } : {}),
          ...(host.env["ALPNMUX_ADMIN_TOKEN"]
            ? { ALPNMUX_ADMIN_TOKEN: host.env["ALPNMUX_ADMIN_TOKEN"] }
            : {}),
        },
        host,
      );
    case "run": {
      const marker = host.env[WORKER_ENV_VAR];
      if (marker !== undefined) {
        const w = parseWorkerEnv(marker);
        if (w === null) {
          host.err(
            `alpnmux: ${WORKER_ENV_VAR} is set but malformed (it is set by a primary for its workers)`,
          );
          return 2;
        }
        return runWorker(w, host, VERSION);
      }
      return run(cmd.flags, host);
    }
  }
}

/** Each line as `alpnmux: line`. */
function prefixed(text: string): string {
  return text
    .split("\n")
    .map((l) => `alpnmux: ${l}`)
    .join("\n");
}

/** What went wrong, for stderr or a log line: a usage error's lines (each `alpnmux: …`), then its cause's. */
function describe(e: unknown): string {
  if (e instanceof UsageError) {
    return `${prefixed(e.message)}${e.cause instanceof Error ? `\n${e.cause.message}` : ""}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Flag values refused before they reach the config, with the rule's own wording. */
function checkRunFlags(flags: RunFlags): UsageIssue[] {
  const problem = flags.adminToken === undefined ? null : adminTokenProblem(flags.adminToken);
  return problem === null ? [] : [{ flag: "--admin-token", message: `--admin-token: ${problem}` }];
}

/**
 * Reads the config file (or the embedded default), merges the flags, and checks it. A problem
 * with a value a flag set is a {@linkcode UsageError} naming the flag (`--default: "10.0.0.5"
 * has no port`), with the file's own problems, if any, as its `cause`; a problem of the file
 * alone is a {@linkcode ConfigError}.
 */
async function loadRunConfig(flags: RunFlags, host: CliHost): Promise<RouterConfig> {
  const source = flags.config ?? "embedded default config";
  let text: string;
  try {
    text = flags.config ? new TextDecoder().decode(await host.readFile(flags.config)) : DEFAULT_CONFIG_YAML;
  } catch (e) {
    throw new ConfigError(
      "invalid-config",
      [{ path: "", message: `cannot read: ${(e as Error).message}` }],
      source,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError("bad-yaml", [{ path: "", message: (e as Error).message }], source);
  }
  const checked = checkRunFlags(flags);
  let fromFlags: UsageIssue[] = [];
  let fileError: ConfigError | undefined;
  let config: RouterConfig | undefined;
  try {
    config = parseConfig(applyRunFlags(doc, flags), source);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const split = attributeIssues(e.issues, doc, flags);
    // A flag refused above keeps that message rather than the schema's.
    fromFlags = split.flags.filter((i) => !checked.some((c) => c.flag === i.flag));
    if (split.file.length) fileError = new ConfigError(e.code, split.file, source);
  }
  const issues = [...checked, ...fromFlags];
  if (issues.length) throw new UsageError("bad-value", issues, fileError ? { cause: fileError } : {});
  if (fileError || config === undefined) throw fileError;
  return config;
}

/** The runtime's missing permissions for `config`'s certificates (none without certificates). */
function certPermissionProblems(host: CliHost, config: RouterConfig): readonly string[] {
  if (config.certificates.length === 0) return [];
  return host.certs?.permissionProblems?.(config) ?? [];
}

async function run(flags: RunFlags, host: CliHost): Promise<number> {
  let config: RouterConfig;
  try {
    config = await loadRunConfig(flags, host);
  } catch (e) {
    host.err(describe(e));
    return e instanceof UsageError ? 2 : 1;
  }
  // Before anything is written: the sandbox must allow what the certificates need.
  const denied = certPermissionProblems(host, config);
  if (denied.length > 0) {
    for (const d of denied) host.err(`alpnmux: ${d}`);
    return 1;
  }
  await configureLogging({
    level: config.log.level,
    format: config.log.format,
    isTty: host.logIsTty ?? false,
    write: host.writeLog,
  });
  const log = getLogger(["alpnmux", "main"]);
  const workers = resolveWorkers(config.workers, host.cores);
  if (workers > 1 && host.workers === undefined) {
    host.err(`alpnmux: workers: ${config.workers} needs worker processes, which this runtime does not offer`);
    return 1;
  }
  // With workers, this process is the primary: admin API, challenge store, config; no TCP.
  let supervisor: Supervisor | null = null;
  let instance: ReturnType<typeof createInstance>;
  try {
    instance = createInstance({
      config,
      env: { ALPNMUX_ADMIN_TOKEN: host.env["ALPNMUX_ADMIN_TOKEN"] },
      readFile: host.readFileSync,
      version: VERSION,
      ...(host.dial ? { dial: host.dial } : {}),
      ...(host.certs ? { certs: host.certs } : {}),
      ...(workers > 1
        ? {
            onChallengesChanged: () => supervisor?.forget(),
            onRoutes: (c: RouterConfig) => {
              config = c;
              supervisor?.pushConfig(c);
            },
            metricsText: async () =>
              supervisor === null
                ? instance.router.metrics.registry.render()
                : renderSnapshot(await supervisor.metrics(instance.router.metrics.registry.snapshot())),
          }
        : {}),
    });
  } catch (e) {
    host.err(e instanceof Error ? e.message : String(e));
    return 1;
  }
  let server: RunningServer;
  let admin: { port: number; stop(): void } | null = null;
  if (workers > 1) {
    const sup = new Supervisor({
      count: workers,
      host: host.workers as WorkerHost,
      store: instance.store,
      config: () => config,
    });
    supervisor = sup;
    try {
      await sup.start();
    } catch (e) {
      instance.close();
      host.err(`alpnmux: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    log.info("{workers} workers share the listen addresses: pids {pids}", { workers, pids: sup.pids });
    server = { close: async () => {}, stop: (ms) => sup.stop(ms ?? config.drainTimeout) };
  } else {
    try {
      server = host.serve(config, instance.router);
    } catch (e) {
      host.err(e instanceof ListenError ? e.message : String(e));
      return 1;
    }
  }
  if (instance.admin) {
    const { settings, app } = instance.admin;
    try {
      admin = host.serveAdmin(settings, app);
    } catch (e) {
      await server.stop(0);
      host.err(ListenError.from(e, settings.listen).message);
      return 1;
    }
    log.info("admin API on http://{address}", {
      address: formatHostPort({ host: settings.listen.host, port: admin.port }),
    });
    // Printed once so hooks can use it; set ALPNMUX_ADMIN_TOKEN or admin.tokenFile to fix it.
    if (settings.generated) host.err(`alpnmux: admin API token (generated): ${settings.token}`);
  }
  let ualpn: UnixSocketServer | null = null;
  const socket = config.challenges.ualpnSocket;
  if (socket !== undefined) {
    try {
      if (host.unix === undefined) throw new Error("this runtime cannot serve unix sockets");
      ualpn = await serveUalpnSocket({
        unix: host.unix,
        path: socket.path,
        mode: Number.parseInt(socket.mode, 8),
        ...(socket.owner !== undefined ? { owner: socket.owner } : {}),
        ...(socket.group !== undefined ? { group: socket.group } : {}),
        readFile: host.readFileSync,
        store: instance.challenges,
      });
    } catch (e) {
      admin?.stop();
      await server.stop(0);
      instance.close();
      host.err(`alpnmux: challenges.ualpnSocket: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
    log.info("ualpn control socket on {path} (mode {mode}): auth/unauth go to the challenge store", {
      path: socket.path,
      mode: socket.mode,
    });
    if (!config.routes.some((r) => typeof r.target === "object" && "acme" in r.target)) {
      log.warn(
        "challenges.ualpnSocket is set but no route has target { acme: builtin }: nothing serves them",
      );
    }
  }
  if (config.challenges.redis && config.challenges.store === "redis") {
    log.info("challenges are shared through Redis at {url} (keys {prefix}challenge:*)", {
      url: redactRedisUrl(config.challenges.redis.url),
      prefix: config.challenges.redis.keyPrefix,
    });
  }
  // Orders start now that the responder can answer their validations.
  const certs = instance.certificates;
  if (certs) {
    log.info("managing {count} certificates with {directory} (storage {storage})", {
      count: config.certificates.length,
      directory: config.acme.directory,
      storage: config.acme.storage,
    });
    certs.start().catch((e) => log.error("certificate manager failed to start: {error}", { error: e }));
  }
  log.info("alpnmux {version} started on {runtime}: {routes} routes, hello timeout {helloTimeout} ms", {
    version: VERSION,
    runtime: host.runtime,
    routes: instance.router.table.routeNames,
    helloTimeout: config.helloTimeout,
  });
  // One reload at a time, in signal order: each compares against the config the last one applied.
  let reloading = Promise.resolve();
  host.onReloadSignal(() => {
    reloading = reloading.then(async () => {
      const next = await reload(flags, host, instance.router, config, instance.certificates);
      if (next) {
        config = next;
        supervisor?.pushConfig(next);
      }
    });
  });
  return await new Promise<number>((resolve) => {
    let stopping = false;
    host.onStopSignal((signal) => {
      if (stopping) return;
      stopping = true;
      // Logged once the listeners are closed: whoever reads it knows new connections are refused.
      server
        .close()
        .then(() => {
          log.info("{signal}: draining {active} connections (up to {drain} ms)", {
            signal,
            active: instance.router.active,
            drain: config.drainTimeout,
          });
          admin?.stop();
          return Promise.all([server.stop(), ualpn?.close(), certs?.stop()]);
        })
        .then(() => instance.close())
        .then(() => resolve(0));
    });
  });
}

/**
 * SIGHUP: re-reads the config file and swaps the route table atomically. Every step (read,
 * parse, check, `router.setConfig`) is inside one `try`: a bad file, or a table the router
 * refuses (e.g. a bad SNI pattern), is logged with every path and reason, counted, and the
 * running table stays. Settings that need new sockets (listen addresses, admin API, the
 * challenge store) are reported and keep their running values until a restart. Never throws.
 */
async function reload(
  flags: RunFlags,
  host: CliHost,
  router: Router,
  running: RouterConfig,
  certs: CertificateManager | null,
): Promise<RouterConfig | null> {
  const log = getLogger(["alpnmux", "main"]);
  try {
    const next = await loadRunConfig(flags, host);
    const denied = certPermissionProblems(host, next);
    if (denied.length > 0) throw new Error(denied.join("; "));
    const needsRestart = [
      JSON.stringify(next.listen) !== JSON.stringify(running.listen) ? "listen" : null,
      next.workers !== running.workers ? "workers" : null,
      JSON.stringify(next.admin) !== JSON.stringify(running.admin) ? "admin" : null,
      JSON.stringify(next.challenges) !== JSON.stringify(running.challenges) ? "challenges" : null,
    ].filter((x) => x !== null);
    // Certificates follow the file while the account (acme:) stays; a new account needs a restart.
    const acmeChanged = JSON.stringify(next.acme) !== JSON.stringify(running.acme);
    const certsChanged = JSON.stringify(next.certificates) !== JSON.stringify(running.certificates);
    const applyCerts = certsChanged && !acmeChanged && certs !== null;
    if (acmeChanged) needsRestart.push("acme");
    if (certsChanged && !applyCerts) needsRestart.push("certificates");
    const applied = {
      ...next,
      listen: running.listen,
      workers: running.workers,
      admin: running.admin,
      challenges: running.challenges,
      acme: running.acme,
      certificates: applyCerts ? next.certificates : running.certificates,
    };
    router.setConfig(applied);
    log.info("reloaded: {routes} routes; new connections use them, open ones keep theirs", {
      routes: router.table.routeNames,
    });
    if (applyCerts && certs) {
      const { added, removed, changed } = await certs.update(next.certificates);
      log.info("reload: certificates added {added}, removed {removed}, changed {changed}", {
        added,
        removed,
        changed,
      });
    }
    if (needsRestart.length) {
      log.warn("reload: {fields} changed and need a restart; the running values stay", {
        fields: needsRestart,
      });
    }
    return applied;
  } catch (e) {
    router.metrics.configReloads.labels({ result: "error" }).inc();
    log.error("reload refused, the running config stays: {error}", { error: describe(e) });
    return null;
  }
}

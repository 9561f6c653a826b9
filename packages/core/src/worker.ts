/**
 * A worker process of `workers: N`: it connects to the primary's control channel, takes the
 * config the primary pushes, binds the listen addresses with SO_REUSEPORT, and serves. Its
 * challenge lookups go to the primary (still behind the engine's guarded lookup), unless
 * `challenges.store: redis`, where it asks Redis itself. A config push swaps its route table;
 * `stop`, SIGTERM, or the primary going away drains it and it exits 0.
 *
 * @module worker
 */

import { getLogger } from "@logtape/logtape";
import { createInstance } from "./app.ts";
import type { ChallengeEntry, ChallengeStore } from "./challenge-store.ts";
import type { RouterConfig } from "./config.ts";
import { configureLogging } from "./logging.ts";
import type { RedisConnection, RedisDial } from "./redis/client.ts";
import type { Router } from "./router.ts";
import {
  ControlChannel,
  type ControlMessage,
  decodeChallengeEntry,
  type WorkerEnv,
} from "./worker-protocol.ts";

/** What a worker needs from the runtime (a subset of the CLI host). */
export interface WorkerRuntime {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pid?: number;
  readonly logIsTty?: boolean;
  readonly dial?: RedisDial;
  readFileSync(path: string): string;
  err(text: string): void;
  writeLog(line: string): void;
  serve(
    config: RouterConfig,
    router: Router,
    options?: { reusePort?: boolean },
  ): { close(): Promise<void>; stop(drainMs?: number): Promise<void> };
  onStopSignal(handler: (signal: string) => void): void;
  onReloadSignal(handler: () => void): void;
}

/**
 * A challenge store that asks the primary (lookups only: writers talk to the primary's admin
 * API or ualpn socket).
 * @param channel The control channel.
 * @returns The store.
 */
export function primaryStore(channel: ControlChannel): ChallengeStore {
  const readOnly = async (): Promise<never> => {
    throw new Error("a worker's challenge store is read-only: use the primary's admin API");
  };
  return {
    get: async (name): Promise<ChallengeEntry | undefined> =>
      decodeChallengeEntry(await channel.request({ type: "lookup", name })),
    set: readOnly,
    delete: readOnly,
    list: readOnly,
  };
}

/**
 * Runs this process as worker `w`. Never throws.
 * @param w From `ALPNMUX_WORKER`.
 * @param host Runtime I/O.
 * @param version For the startup line.
 * @returns The exit code: 0 after a stop, 1 when the primary or the listeners failed.
 */
export async function runWorker(w: WorkerEnv, host: WorkerRuntime, version: string): Promise<number> {
  const fail = (why: string) => {
    host.err(`alpnmux worker ${w.worker}: ${why}`);
    return 1;
  };
  if (host.dial === undefined) return fail("this runtime cannot connect to the primary");
  let conn: RedisConnection;
  try {
    conn = await host.dial({ host: "127.0.0.1", port: w.port, tls: false, serverName: "127.0.0.1" });
  } catch (e) {
    return fail(`cannot connect to the primary on 127.0.0.1:${w.port}: ${(e as Error).message}`);
  }
  let writes = Promise.resolve();
  let gotConfig: ((c: RouterConfig) => void) | null = null;
  const firstConfig = new Promise<RouterConfig>((r) => {
    gotConfig = r;
  });
  let onPush: (m: ControlMessage) => void = (m) => {
    if (m.type === "config" && gotConfig !== null) gotConfig(m["config"] as RouterConfig);
  };
  let metricsOf: () => unknown = () => [];
  let stopNow: (why: string, drainMs?: number) => void = () => {};
  const channel = new ControlChannel({
    send: (b) => {
      writes = writes.then(() => conn.write(b)).catch(() => {});
    },
    handle: async (m) => {
      if (m.type === "metrics") return metricsOf();
      throw new Error(`unknown request ${JSON.stringify(m.type)}`);
    },
    push: (m) => onPush(m),
    invalid: () => conn.close(),
  });
  const closed = (async () => {
    for (;;) {
      const b = await conn.read();
      if (b === null) break;
      channel.data(b);
    }
    channel.close();
  })();
  channel.push({ type: "hello", worker: w.worker, pid: host.pid ?? 0, token: w.token });
  const config = await Promise.race([firstConfig, closed.then(() => null)]);
  if (config === null) return fail("the primary closed the control channel before sending the config");

  await configureLogging({
    level: config.log.level,
    format: config.log.format,
    isTty: host.logIsTty ?? false,
    write: host.writeLog,
  });
  const log = getLogger(["alpnmux", "worker"]);
  let instance: ReturnType<typeof createInstance>;
  let server: ReturnType<WorkerRuntime["serve"]>;
  try {
    const shared = config.challenges.store === "redis";
    instance = createInstance({
      config,
      admin: false,
      worker: w.worker,
      readFile: host.readFileSync,
      ...(shared ? {} : { store: primaryStore(channel) }),
      ...(host.dial ? { dial: host.dial } : {}),
    });
    server = host.serve(config, instance.router, { reusePort: true });
  } catch (e) {
    conn.close();
    return fail(e instanceof Error ? e.message : String(e));
  }
  metricsOf = () => instance.router.metrics.registry.snapshot();
  log.info("worker {worker} (pid {pid}) of alpnmux {version} serving", {
    worker: w.worker,
    pid: host.pid,
    version,
  });
  channel.push({ type: "ready" });
  return await new Promise<number>((resolve) => {
    let stopping = false;
    stopNow = (why, drainMs) => {
      if (stopping) return;
      stopping = true;
      log.info("worker {worker}: {why}: draining {active} connections", {
        worker: w.worker,
        why,
        active: instance.router.active,
      });
      server
        .stop(drainMs ?? instance.router.config.drainTimeout)
        .then(() => instance.close())
        .then(() => writes)
        .then(() => {
          conn.close();
          resolve(0);
        });
    };
    onPush = (m) => {
      if (m.type === "config") {
        try {
          instance.router.setConfig(m["config"] as RouterConfig);
          log.info("worker {worker}: new config: {routes} routes", {
            worker: w.worker,
            routes: instance.router.table.routeNames,
          });
        } catch (e) {
          log.error("worker {worker}: config push refused: {error}", { worker: w.worker, error: String(e) });
        }
      } else if (m.type === "forget") instance.forgetMisses();
      else if (m.type === "stop")
        stopNow("stop", typeof m["drainMs"] === "number" ? m["drainMs"] : undefined);
    };
    host.onStopSignal((signal) => stopNow(signal));
    // SIGHUP is the primary's: it reloads and pushes the result here.
    host.onReloadSignal(() => {});
    void closed.then(() => stopNow("the primary went away"));
  });
}

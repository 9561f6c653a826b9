/**
 * The primary process of `workers: N` (N > 1): it spawns N worker processes of the same command,
 * which share the listen sockets (SO_REUSEPORT) and accept the connections, while the primary
 * keeps the admin API, the challenge store and the config. Each worker connects back over a
 * control channel ({@linkcode ControlChannel}) to look challenges up, receive config pushes,
 * report metrics and be told to stop. A worker that dies is restarted after a short backoff
 * ({@linkcode restartDelay}). The runtime gives only process spawning and a loopback listener
 * ({@linkcode WorkerHost}).
 *
 * @module supervisor
 */

import { getLogger } from "@logtape/logtape";
import type { ChallengeStore } from "./challenge-store.ts";
import type { RouterConfig } from "./config.ts";
import { type FamilySnapshot, mergeSnapshots } from "./metrics.ts";
import type { UnixConnection, UnixConnectionHandler } from "./unix-socket.ts";
import {
  ControlChannel,
  type ControlMessage,
  encodeChallengeEntry,
  formatWorkerEnv,
  WORKER_ENV_VAR,
} from "./worker-protocol.ts";

/** A spawned worker (a child of the primary, started by the runtime). */
export interface WorkerProcess {
  readonly pid: number;
  /** Resolves with the exit code (`null` when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Sends a signal. */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

/** What the runtime provides for workers. */
export interface WorkerHost {
  /**
   * Starts the same command again (same runtime, same arguments) with `env` added to this
   * process's environment, stdout and stderr shared with the primary.
   */
  spawn(env: Readonly<Record<string, string>>): WorkerProcess;
  /** Listens on 127.0.0.1, a free port, for the workers' control connections. */
  listenControl(
    accept: (conn: UnixConnection) => UnixConnectionHandler,
  ): Promise<{ readonly port: number; close(): Promise<void> }>;
}

/** A worker is restarted at once (100 ms) after a long life, else after twice the last delay, at most 5 s. */
export const RESTART_MIN_MS = 100;
/** The longest restart delay. */
export const RESTART_MAX_MS = 5_000;
/** A worker that ran this long is restarted after {@linkcode RESTART_MIN_MS} again. */
export const RESTART_RESET_MS = 10_000;

/**
 * How long to wait before restarting a worker that exited.
 * @param previousMs The delay before its last start (0 for the first start).
 * @param uptimeMs How long it ran.
 * @returns The delay in ms.
 * @example
 * ```ts
 * import { restartDelay } from "@alpnmux/core/cli";
 * restartDelay(0, 50); // 100
 * restartDelay(100, 50); // 200: it died at once again
 * restartDelay(3200, 60_000); // 100: it ran a minute
 * ```
 */
export function restartDelay(previousMs: number, uptimeMs: number): number {
  if (uptimeMs >= RESTART_RESET_MS) return RESTART_MIN_MS;
  return Math.min(RESTART_MAX_MS, Math.max(RESTART_MIN_MS, previousMs * 2));
}

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** Workers to run (at least 2). */
  readonly count: number;
  readonly host: WorkerHost;
  /** The primary's challenge store (the admin API and the ualpn socket write it). */
  readonly store: ChallengeStore;
  /** The config a (re)started worker gets. */
  readonly config: () => RouterConfig;
  /** How long `metrics()` waits for each worker; default 2000 ms. */
  readonly metricsTimeoutMs?: number;
}

interface Slot {
  readonly worker: number;
  proc: WorkerProcess | null;
  channel: ControlChannel | null;
  startedAt: number;
  delayMs: number;
  ready: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Families a worker counts that the primary owns (it decides reloads): not summed from workers. */
const PRIMARY_ONLY = new Set(["alpnmux_config_reloads_total"]);

/** Runs and supervises the workers. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #slots: Slot[];
  readonly #token: string;
  readonly #log = getLogger(["alpnmux", "workers"]);
  #control: { port: number; close(): Promise<void> } | null = null;
  #stopping = false;
  #firstStart: { resolve(): void; reject(e: Error): void } | null = null;

  /** @param options Count, runtime, store and config. */
  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#slots = Array.from({ length: options.count }, (_, i) => ({
      worker: i + 1,
      proc: null,
      channel: null,
      startedAt: 0,
      delayMs: 0,
      ready: false,
      timer: undefined,
    }));
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    this.#token = btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  }

  /**
   * Listens for control connections, spawns every worker, and resolves once each one listens.
   * @throws {Error} When a worker exits before it is ready (e.g. it cannot bind): the others are stopped.
   */
  async start(): Promise<void> {
    this.#control = await this.#o.host.listenControl((conn) => this.#accept(conn));
    const ready = new Promise<void>((resolve, reject) => {
      this.#firstStart = { resolve, reject };
    });
    for (const s of this.#slots) this.#spawn(s);
    try {
      await ready;
    } catch (e) {
      await this.stop(0);
      throw e;
    }
  }

  /** Pids of the running workers, by worker number. */
  get pids(): (number | null)[] {
    return this.#slots.map((s) => s.proc?.pid ?? null);
  }

  /** Sends a new config to every worker (each calls `router.setConfig`). @param config Checked and applied by the primary. */
  pushConfig(config: RouterConfig): void {
    for (const s of this.#slots) s.channel?.push({ type: "config", config });
  }

  /** Tells every worker to forget remembered misses (a challenge was just set or deleted). */
  forget(): void {
    for (const s of this.#slots) s.channel?.push({ type: "forget" });
  }

  /**
   * The primary's own metrics summed with every worker's that answers in time.
   * @param own The primary's snapshot (its reload counter, its zero gauges).
   * @returns The merged families.
   */
  async metrics(own: readonly FamilySnapshot[]): Promise<FamilySnapshot[]> {
    const timeout = this.#o.metricsTimeoutMs ?? 2_000;
    const answers = await Promise.all(
      this.#slots.map(async (s) => {
        if (s.channel === null) return [];
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          const v = await Promise.race([
            s.channel.request({ type: "metrics" }),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error("timed out")), timeout);
            }),
          ]);
          return (Array.isArray(v) ? (v as FamilySnapshot[]) : []).filter((f) => !PRIMARY_ONLY.has(f.name));
        } catch (e) {
          this.#log.warn("worker {worker}: no metrics: {error}", { worker: s.worker, error: String(e) });
          return [];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return mergeSnapshots([own, ...answers]);
  }

  /**
   * Stops every worker (each drains for `drainMs`), and resolves once all have exited; a worker
   * still running 5 s after that is killed.
   * @param drainMs How long workers let spliced connections finish.
   */
  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    const exits = this.#slots.map(async (s) => {
      clearTimeout(s.timer);
      const proc = s.proc;
      if (proc === null) return;
      if (s.channel !== null && !s.channel.closed) s.channel.push({ type: "stop", drainMs });
      else proc.kill("SIGTERM");
      const kill = setTimeout(() => proc.kill("SIGKILL"), drainMs + 5_000);
      await proc.exited;
      clearTimeout(kill);
    });
    await Promise.all(exits);
    await this.#control?.close();
  }

  #spawn(s: Slot): void {
    if (this.#stopping) return;
    const port = this.#control?.port ?? 0;
    s.startedAt = Date.now();
    s.ready = false;
    const proc = this.#o.host.spawn({
      [WORKER_ENV_VAR]: formatWorkerEnv({ worker: s.worker, port, token: this.#token }),
    });
    s.proc = proc;
    this.#log.info("worker {worker} started (pid {pid})", { worker: s.worker, pid: proc.pid });
    void proc.exited.then((code) => this.#exited(s, proc, code));
  }

  #exited(s: Slot, proc: WorkerProcess, code: number | null): void {
    if (s.proc !== proc) return;
    s.channel?.close();
    s.channel = null;
    if (this.#stopping) {
      this.#log.info("worker {worker} (pid {pid}) exited with {code}", {
        worker: s.worker,
        pid: proc.pid,
        code,
      });
      return;
    }
    if (!s.ready && this.#firstStart !== null) {
      const f = this.#firstStart;
      this.#firstStart = null;
      f.reject(new Error(`worker ${s.worker} (pid ${proc.pid}) exited with ${code} before it was ready`));
      return;
    }
    s.delayMs = restartDelay(s.delayMs, Date.now() - s.startedAt);
    this.#log.warn("worker {worker} (pid {pid}) exited with {code}; restarting it in {delay} ms", {
      worker: s.worker,
      pid: proc.pid,
      code,
      delay: s.delayMs,
    });
    s.timer = setTimeout(() => this.#spawn(s), s.delayMs);
  }

  #accept(conn: UnixConnection): UnixConnectionHandler {
    let slot: Slot | null = null;
    const channel: ControlChannel = new ControlChannel({
      send: (b) => conn.write(b),
      handle: (m) => this.#handle(slot, m),
      push: (m) => {
        if (slot === null) {
          slot = this.#hello(m, channel);
          if (slot === null) {
            channel.close();
            conn.close();
          }
        } else if (m.type === "ready") {
          this.#ready(slot);
        }
      },
      invalid: () => conn.close(),
    });
    return {
      data: (b) => channel.data(b),
      end: () => {
        channel.close();
        conn.close();
      },
    };
  }

  /** A worker's first message: its number and the token. */
  #hello(m: ControlMessage, channel: ControlChannel): Slot | null {
    const s = this.#slots.find((x) => x.worker === m["worker"]);
    if (m.type !== "hello" || m["token"] !== this.#token || s === undefined) {
      this.#log.warn("control connection refused: not a worker's hello");
      return null;
    }
    s.channel = channel;
    channel.push({ type: "config", config: this.#o.config() });
    return s;
  }

  #ready(s: Slot): void {
    s.ready = true;
    this.#log.info("worker {worker} (pid {pid}) is serving", { worker: s.worker, pid: s.proc?.pid });
    if (this.#firstStart !== null && this.#slots.every((x) => x.ready)) {
      const f = this.#firstStart;
      this.#firstStart = null;
      f.resolve();
    }
  }

  async #handle(slot: Slot | null, m: ControlMessage): Promise<unknown> {
    if (slot === null) throw new Error("hello first");
    if (m.type === "lookup" && typeof m["name"] === "string") {
      return encodeChallengeEntry(await this.#o.store.get(m["name"]));
    }
    throw new Error(`unknown request ${JSON.stringify(m.type)}`);
  }
}

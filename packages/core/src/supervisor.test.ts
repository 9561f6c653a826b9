import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryChallengeStore } from "./challenge-store.ts";
import { parseConfig } from "./config.ts";
import { Registry } from "./metrics.ts";
import {
  RESTART_MAX_MS,
  RESTART_MIN_MS,
  restartDelay,
  Supervisor,
  type WorkerProcess,
} from "./supervisor.ts";
import type { UnixConnection, UnixConnectionHandler } from "./unix-socket.ts";
import { ControlChannel, type ControlMessage, parseWorkerEnv } from "./worker-protocol.ts";

describe("restartDelay", () => {
  test("doubles from 100 ms up to 5 s while a worker keeps dying, and starts over after a long run", () => {
    let d = 0;
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      d = restartDelay(d, 50);
      seen.push(d);
    }
    assert.deepEqual(seen, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    assert.equal(restartDelay(RESTART_MAX_MS, 60_000), RESTART_MIN_MS);
  });
});

/** A fake runtime: each spawned "process" is a ControlChannel driven in memory. */
function fakeHost() {
  let accept: ((c: UnixConnection) => UnixConnectionHandler) | null = null;
  let pid = 100;
  const procs: {
    pid: number;
    env: Record<string, string>;
    exit(code: number | null): void;
    channel: ControlChannel;
    pushes: ControlMessage[];
    signals: string[];
  }[] = [];
  const host = {
    spawn(env: Readonly<Record<string, string>>): WorkerProcess {
      let exit: (c: number | null) => void = () => {};
      const exited = new Promise<number | null>((r) => (exit = r));
      const pushes: ControlMessage[] = [];
      const signals: string[] = [];
      let handler: UnixConnectionHandler | null = null;
      const channel: ControlChannel = new ControlChannel({
        send: (b) => queueMicrotask(() => handler?.data(b)),
        handle: async (m) => (m.type === "metrics" ? metricsOf(Number(w?.worker)) : null),
        push: (m) => {
          pushes.push(m);
          if (m.type === "stop") queueMicrotask(() => exit(0));
        },
      });
      const w = parseWorkerEnv(env["ALPNMUX_WORKER"] ?? "");
      const conn: UnixConnection = { write: (b) => queueMicrotask(() => channel.data(b)), close() {} };
      handler = (accept as (c: UnixConnection) => UnixConnectionHandler)(conn);
      const p = { pid: pid++, env: { ...env }, exit, channel, pushes, signals };
      procs.push(p);
      channel.push({ type: "hello", worker: w?.worker, pid: p.pid, token: w?.token });
      queueMicrotask(() => channel.push({ type: "ready" }));
      return { pid: p.pid, exited, kill: (s) => signals.push(s) };
    },
    async listenControl(a: (c: UnixConnection) => UnixConnectionHandler) {
      accept = a;
      return { port: 4000, close: async () => {} };
    },
  };
  const metricsOf = (worker: number) => {
    const r = new Registry();
    r.counter({ name: "alpnmux_connections_total", help: "c" }).inc(worker * 10);
    r.counter({ name: "alpnmux_config_reloads_total", help: "r" }).inc(7);
    return r.snapshot();
  };
  return { host, procs };
}

describe("Supervisor", () => {
  const config = parseConfig({ default: "reject" });

  test("starts every worker, gives each the config, fans out pushes, sums metrics, and stops them", async () => {
    const { host, procs } = fakeHost();
    const sup = new Supervisor({ count: 2, host, store: new MemoryChallengeStore(), config: () => config });
    await sup.start();
    assert.equal(procs.length, 2);
    assert.deepEqual(sup.pids, [100, 101]);
    for (const p of procs) assert.equal(p.pushes[0]?.type, "config");
    const next = parseConfig({ default: "reject", helloTimeout: "3s" });
    sup.pushConfig(next);
    sup.forget();
    await new Promise((r) => setTimeout(r, 0));
    for (const p of procs) {
      assert.deepEqual(
        p.pushes.map((m) => m.type),
        ["config", "config", "forget"],
      );
      const pushed = p.pushes[1]?.["config"] as { helloTimeout: number } | undefined;
      assert.equal(pushed?.helloTimeout, 3000);
    }
    const own = new Registry();
    own.counter({ name: "alpnmux_config_reloads_total", help: "r" }).inc(1);
    const merged = await sup.metrics(own.snapshot());
    const byName = Object.fromEntries(merged.map((f) => [f.name, f.series[0]?.value]));
    // The primary owns the reload counter (each worker's 7 is left out); connections: 10 + 20.
    assert.deepEqual(byName, { alpnmux_config_reloads_total: 1, alpnmux_connections_total: 30 });
    await sup.stop(1000);
    for (const p of procs) assert.equal(p.pushes.at(-1)?.type, "stop");
  });

  test("answers a worker's lookup from the primary's store", async () => {
    const { host, procs } = fakeHost();
    const store = new MemoryChallengeStore();
    await store.set("a.example", "tok.thumb");
    const sup = new Supervisor({ count: 2, host, store, config: () => config });
    await sup.start();
    const v = (await procs[0]?.channel.request({ type: "lookup", name: "a.example" })) as {
      keyAuthorization: string;
    };
    assert.equal(v.keyAuthorization, "tok.thumb");
    assert.equal(await procs[1]?.channel.request({ type: "lookup", name: "b.example" }), null);
    await sup.stop(0);
  });

  test("restarts a worker that died, with the same worker number", async () => {
    const { host, procs } = fakeHost();
    const sup = new Supervisor({ count: 2, host, store: new MemoryChallengeStore(), config: () => config });
    await sup.start();
    procs[0]?.exit(null);
    await new Promise((r) => setTimeout(r, RESTART_MIN_MS + 50));
    assert.equal(procs.length, 3);
    assert.equal(parseWorkerEnv(procs[2]?.env["ALPNMUX_WORKER"] ?? "")?.worker, 1);
    assert.deepEqual(sup.pids, [102, 101]);
    await sup.stop(0);
  });

  test("a hello with the wrong token is refused", async () => {
    const { host } = fakeHost();
    let accept: ((c: UnixConnection) => UnixConnectionHandler) | null = null;
    const sup = new Supervisor({
      count: 2,
      host: {
        ...host,
        listenControl: async (a) => {
          accept = a;
          return { port: 1, close: async () => {} };
        },
      },
      store: new MemoryChallengeStore(),
      config: () => config,
    });
    void sup.start().catch(() => {});
    let closed = false;
    const h = (accept as unknown as (c: UnixConnection) => UnixConnectionHandler)({
      write() {},
      close: () => (closed = true),
    });
    h.data(new TextEncoder().encode('{"type":"hello","worker":1,"token":"wrong"}\n'));
    assert.equal(closed, true);
  });
});

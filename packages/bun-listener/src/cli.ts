/**
 * The `alpnmux` command on Bun: only I/O (files, stdin, stdout, signals, sockets); the command
 * itself is `runCli` from `@alpnmux/core/cli`.
 *
 * @module cli
 */

import { readFileSync } from "node:fs";
import { ListenError } from "@alpnmux/core";
import { type CliHost, runCli } from "@alpnmux/core/cli";
import type { RedisConnection } from "@alpnmux/core/redis";
import { getLogger } from "@logtape/logtape";
import { serve } from "./listener.ts";

const line = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);

/** A TCP connection for the Redis client: `data` callbacks feed a queue that `read()` pulls. */
async function dial(hostname: string, port: number): Promise<RedisConnection> {
  const queue: Uint8Array[] = [];
  let ended = false;
  // Both a read and a write may be waiting; every event wakes all, and each re-checks.
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  const end = () => {
    ended = true;
    notify();
  };
  const socket = await Bun.connect({
    hostname,
    port,
    allowHalfOpen: true,
    socket: {
      data(_s, d) {
        queue.push(new Uint8Array(d));
        notify();
      },
      drain: notify,
      end,
      close: end,
      error: end,
      connectError: end,
    },
  });
  const wait = () => new Promise<void>((r) => waiters.push(r));
  return {
    async write(bytes) {
      let off = 0;
      while (off < bytes.length) {
        if (ended) throw new Error("connection closed");
        const n = socket.write(bytes.subarray(off));
        if (n < 0) throw new Error("connection closed");
        off += n;
        if (off < bytes.length) await wait();
      }
    },
    async read() {
      while (queue.length === 0 && !ended) await wait();
      return queue.shift() ?? null;
    },
    close() {
      socket.end();
      end();
    },
  };
}

const host: CliHost = {
  runtime: `bun ${Bun.version}`,
  env: process.env,
  readFile: async (path) => new Uint8Array(await Bun.file(path).arrayBuffer()),
  readFileSync: (path) => readFileSync(path, "utf8"),
  readStdin: async () => new Uint8Array(await Bun.stdin.arrayBuffer()),
  out: (s) => process.stdout.write(line(s)),
  err: (s) => process.stderr.write(line(s)),
  writeLog: (l) => process.stdout.write(l),
  serve: (config, router) => serve({ config, router }),
  serveAdmin(settings, app) {
    try {
      const s = Bun.serve({ hostname: settings.listen.host, port: settings.listen.port, fetch: app.fetch });
      return { port: s.port ?? settings.listen.port, stop: () => s.stop(true) };
    } catch (e) {
      throw ListenError.from(e, settings.listen);
    }
  },
  onStopSignal(handler) {
    process.on("SIGTERM", () => handler("SIGTERM"));
    process.on("SIGINT", () => handler("SIGINT"));
  },
  onReloadSignal(handler) {
    process.on("SIGHUP", handler);
  },
  dial,
};

process.on("uncaughtException", (e) => {
  // A bug in one connection's handling must not take the others down: log and go on.
  getLogger(["alpnmux", "main"]).error("uncaught exception (process kept running): {error}", {
    error: String(e?.stack ?? e),
  });
});

process.exit(await runCli(process.argv.slice(2), host));

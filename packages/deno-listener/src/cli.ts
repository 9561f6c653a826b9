/**
 * The `alpnmux` command on Deno: only I/O (files, stdin, stdout, signals, sockets); the command
 * itself is `runCli` from `@alpnmux/core/cli`. Run it with
 * `deno run -A packages/deno-listener/src/cli.ts …` (or the `alpnmux-deno` bin).
 *
 * @module cli
 */

import { ListenError } from "@alpnmux/core";
import { type CliHost, runCli } from "@alpnmux/core/cli";
import type { RedisConnection } from "@alpnmux/core/redis";
import { serve } from "./listener.ts";

const enc = new TextEncoder();
const line = (s: string) => enc.encode(s.endsWith("\n") ? s : `${s}\n`);
const writeAll = (w: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) => {
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
};

/** A TCP connection for the Redis client: `conn.read` into a buffer, a write loop. */
async function dial(hostname: string, port: number): Promise<RedisConnection> {
  const conn = await Deno.connect({ hostname, port });
  conn.setNoDelay(true);
  const buf = new Uint8Array(64 * 1024);
  let closed = false;
  return {
    async write(bytes) {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    },
    async read() {
      if (closed) return null;
      try {
        const n = await conn.read(buf);
        return n === null ? null : buf.slice(0, n);
      } catch (e) {
        if (closed) return null;
        throw e;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

const host: CliHost = {
  runtime: `deno ${Deno.version.deno}`,
  env: Deno.env.toObject(),
  readFile: (path) => Deno.readFile(path),
  readFileSync: (path) => Deno.readTextFileSync(path),
  readStdin: async () => new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer()),
  out: (s) => writeAll(Deno.stdout, line(s)),
  err: (s) => writeAll(Deno.stderr, line(s)),
  writeLog: (l) => writeAll(Deno.stdout, enc.encode(l)),
  serve: (config, router) => serve({ config, router }),
  serveAdmin(settings, app) {
    try {
      const s = Deno.serve(
        { hostname: settings.listen.host, port: settings.listen.port, onListen: () => {} },
        app.fetch,
      );
      return { port: s.addr.port, stop: () => void s.shutdown() };
    } catch (e) {
      throw ListenError.from(e, settings.listen);
    }
  },
  onStopSignal(handler) {
    Deno.addSignalListener("SIGTERM", () => handler("SIGTERM"));
    Deno.addSignalListener("SIGINT", () => handler("SIGINT"));
  },
  onReloadSignal(handler) {
    Deno.addSignalListener("SIGHUP", handler);
  },
  dial,
};

Deno.exit(await runCli(Deno.args, host));

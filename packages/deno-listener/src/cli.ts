/**
 * The `alpnmux` command on Deno: only I/O (files, stdin, stdout, signals, sockets); the command
 * itself is `runCli` from `@alpnmux/core/cli`. Run it with the `alpnmux-deno` bin, or with
 * `deno run --no-prompt --allow-net --allow-read
 * --allow-env=ALPNMUX_ADMIN,ALPNMUX_ADMIN_TOKEN,LOG_TOKENS,LOG_STREAM packages/deno-listener/src/cli.ts …`
 * (`--allow-read` may name only the config, token and CA files). With
 * `challenges.ualpnSocket` add `--allow-write=PATH` for the socket (`alpnmux-deno` adds it from
 * `ALPNMUX_DENO_ALLOW_WRITE`). With `workers` above 1, the workers are `alpnmux-deno` again
 * (`ALPNMUX_DENO_SELF`), so add `--allow-run` for it and `--unstable-net` (SO_REUSEPORT). With
 * `certificates`, add `--allow-write` for `acme.storage` and each `out`, and `--allow-run=sh`
 * when one has `deploy` (`alpnmux-deno`: `ALPNMUX_DENO_ALLOW_WRITE`, `ALPNMUX_DENO_ALLOW_RUN`);
 * `alpnmux run` checks them before it starts and names the field and the variable to set.
 *
 * @module cli
 */

import { ListenError } from "@alpnmux/core";
import { type CliHost, runCli } from "@alpnmux/core/cli";
import { certHost } from "./cert-host.ts";
import { ALLOW_WRITE_VAR, describeMissing } from "./cert-permissions.ts";
import { serve } from "./listener.ts";
import { keepRunningOnUncaughtErrors } from "./process-errors.ts";
import { dial } from "./redis-dial.ts";
import { unix } from "./ualpn-socket.ts";
import { workers } from "./workers.ts";

/** The environment variables the command reads (see `bin/alpnmux-deno`'s `--allow-env`). */
const ENV_VARS = ["ALPNMUX_ADMIN", "ALPNMUX_ADMIN_TOKEN", "ALPNMUX_WORKER"] as const;
/** `Deno.env.get` (deno.d.ts declares only `toObject`, which needs access to every variable). */
const env = Deno.env as unknown as { get(name: string): string | undefined };

const enc = new TextEncoder();
const line = (s: string) => enc.encode(s.endsWith("\n") ? s : `${s}\n`);
const writeAll = (w: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) => {
  let off = 0;
  while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
};

const host: CliHost = {
  runtime: `deno ${Deno.version.deno}`,
  // Only the variables the command reads, so `--allow-env=ALPNMUX_ADMIN,ALPNMUX_ADMIN_TOKEN` suffices.
  env: Object.fromEntries(
    ENV_VARS.flatMap((name) => {
      const value = env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  ),
  readFile: (path) => Deno.readFile(path),
  readFileSync: (path) => Deno.readTextFileSync(path),
  readStdin: async () => new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer()),
  out: (s) => writeAll(Deno.stdout, line(s)),
  err: (s) => writeAll(Deno.stderr, line(s)),
  writeLog: (l) => writeAll(Deno.stdout, enc.encode(l)),
  logIsTty: Deno.stdout.isTerminal(),
  serve: (config, router, options) => serve({ config, router, reusePort: options?.reusePort === true }),
  pid: Deno.pid,
  cores: navigator.hardwareConcurrency,
  workers,
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
  unix,
  // Certificates need write access and `sh`: core asks which are missing before it starts.
  certs: { ...certHost, permissionProblems: (config) => describeMissing(config, env.get(ALLOW_WRITE_VAR)) },
};

// A bug in one connection's handling must not take the others down: log and go on.
keepRunningOnUncaughtErrors();

Deno.exit(await runCli(Deno.args, host));

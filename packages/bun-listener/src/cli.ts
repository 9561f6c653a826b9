/**
 * The `alpnmux` command on Bun: only I/O (files, stdin, stdout, signals, sockets); the command
 * itself is `runCli` from `@alpnmux/core/cli`.
 *
 * @module cli
 */

import { readFileSync } from "node:fs";
import { ListenError } from "@alpnmux/core";
import { type CliHost, runCli } from "@alpnmux/core/cli";
import { certHost } from "./cert-host.ts";
import { serve } from "./listener.ts";
import { keepRunningOnUncaughtErrors } from "./process-errors.ts";
import { dial } from "./redis-dial.ts";
import { unix } from "./ualpn-socket.ts";
import { workers } from "./workers.ts";

const line = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);

const host: CliHost = {
  runtime: `bun ${Bun.version}`,
  env: process.env,
  readFile: async (path) => new Uint8Array(await Bun.file(path).arrayBuffer()),
  readFileSync: (path) => readFileSync(path, "utf8"),
  readStdin: async () => new Uint8Array(await Bun.stdin.arrayBuffer()),
  out: (s) => process.stdout.write(line(s)),
  err: (s) => process.stderr.write(line(s)),
  writeLog: (l) => process.stdout.write(l),
  logIsTty: process.stdout.isTTY === true,
  serve: (config, router, options) => serve({ config, router, reusePort: options?.reusePort === true }),
  pid: process.pid,
  cores: navigator.hardwareConcurrency,
  workers,
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
  unix,
  certs: certHost,
};

// A bug in one connection's handling must not take the others down: log and go on.
keepRunningOnUncaughtErrors();

process.exit(await runCli(process.argv.slice(2), host));

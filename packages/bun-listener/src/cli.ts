/**
 * The `alpnmux` command on Bun. Only I/O lives here: reading files and stdin, printing,
 * signals; parsing and every decision come from `@alpnmux/core`.
 *
 * @module cli
 */

import { readFileSync } from "node:fs";
import {
  applyRunFlags,
  ConfigError,
  configureLogging,
  DEFAULT_CONFIG_YAML,
  helloReport,
  loadConfig,
  parseCli,
  parseConfig,
  USAGE,
  UsageError,
} from "@alpnmux/core";
import { createInstance } from "@alpnmux/core/app";
import { getLogger } from "@logtape/logtape";
import { parse as parseYaml } from "yaml";
import { ListenError, serve } from "./listener.ts";

const VERSION = "0.1.0";

function out(s: string): void {
  process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
}
function err(s: string): void {
  process.stderr.write(s.endsWith("\n") ? s : `${s}\n`);
}

async function readInput(file: string): Promise<Uint8Array> {
  if (file === "-") return new Uint8Array(await Bun.stdin.arrayBuffer());
  return new Uint8Array(await Bun.file(file).arrayBuffer());
}

async function main(argv: string[]): Promise<number> {
  let cmd: ReturnType<typeof parseCli>;
  try {
    cmd = parseCli(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`alpnmux: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  switch (cmd.command) {
    case "help":
      out(USAGE);
      return 0;
    case "version":
      out(`alpnmux ${VERSION} (bun ${Bun.version})`);
      return 0;
    case "hello": {
      let bytes: Uint8Array;
      try {
        bytes = await readInput(cmd.file);
      } catch (e) {
        err(`alpnmux hello: cannot read ${cmd.file}: ${(e as Error).message}`);
        return 2;
      }
      const { report, exitCode } = helloReport(bytes);
      out(JSON.stringify(report));
      return exitCode;
    }
    case "check": {
      try {
        const c = loadConfig(await Bun.file(cmd.file).text(), cmd.file);
        out(
          `${cmd.file}: ok (${c.routes.length} routes + default, listening on ${c.listen.length} addresses)`,
        );
        return 0;
      } catch (e) {
        err(e instanceof ConfigError ? e.message : `Cannot read ${cmd.file}: ${(e as Error).message}`);
        return 1;
      }
    }
    case "challenge": {
      const { runChallengeCommand } = await import("@alpnmux/core/admin-client");
      return runChallengeCommand(
        cmd.args,
        {
          ...(process.env["ALPNMUX_ADMIN"] ? { ALPNMUX_ADMIN: process.env["ALPNMUX_ADMIN"] } : {}),
          ...(process.env["ALPNMUX_ADMIN_TOKEN"]
            ? { ALPNMUX_ADMIN_TOKEN: process.env["ALPNMUX_ADMIN_TOKEN"] }
            : {}),
        },
        { out, err },
      );
    }
    case "run":
      return run(cmd.flags);
  }
}

async function run(flags: Parameters<typeof applyRunFlags>[1]): Promise<number> {
  let doc: unknown;
  const source = flags.config ?? "embedded default config";
  try {
    doc = parseYaml(flags.config ? await Bun.file(flags.config).text() : DEFAULT_CONFIG_YAML);
  } catch (e) {
    err(`Cannot read ${source}: ${(e as Error).message}`);
    return 1;
  }
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(applyRunFlags(doc, flags), source);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return 1;
    }
    throw e;
  }
  await configureLogging({
    level: config.log.level,
    format: config.log.format,
    write: (l) => process.stdout.write(l),
  });
  const log = getLogger(["alpnmux", "main"]);
  let instance: ReturnType<typeof createInstance>;
  try {
    instance = createInstance({
      config,
      env: { ALPNMUX_ADMIN_TOKEN: process.env["ALPNMUX_ADMIN_TOKEN"] },
      readFile: (p) => readFileSync(p, "utf8"),
      version: VERSION,
    });
  } catch (e) {
    err(e instanceof Error ? e.message : String(e));
    return 1;
  }
  let server: ReturnType<typeof serve>;
  let admin: ReturnType<typeof Bun.serve> | null = null;
  try {
    server = serve({ config, router: instance.router });
    if (instance.admin) {
      const { settings, app } = instance.admin;
      try {
        admin = Bun.serve({ hostname: settings.listen.host, port: settings.listen.port, fetch: app.fetch });
      } catch (e) {
        await server.stop(0);
        throw ListenError.from(e, settings.listen);
      }
      log.info("admin API on http://{address}", {
        address: `${settings.listen.host.includes(":") ? `[${settings.listen.host}]` : settings.listen.host}:${admin.port}`,
      });
      if (settings.generated) {
        // Printed once so hooks can use it; set ALPNMUX_ADMIN_TOKEN or admin.tokenFile to fix it.
        err(`alpnmux: admin API token (generated): ${settings.token}`);
      }
    }
  } catch (e) {
    if (e instanceof ListenError) {
      err(e.message);
      return 1;
    }
    throw e;
  }
  log.info("alpnmux {version} started: {routes} routes, hello timeout {helloTimeout} ms", {
    version: VERSION,
    routes: server.router.table.routeNames,
    helloTimeout: config.helloTimeout,
  });
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("{signal}: draining {active} connections (up to {drain} ms)", {
        signal,
        active: server.router.active,
        drain: config.drainTimeout,
      });
      admin?.stop(true);
      server.stop().then(() => resolve(0));
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

process.on("uncaughtException", (e) => {
  getLogger(["alpnmux", "main"]).error("uncaught exception (connection dropped, process kept): {error}", {
    error: String(e?.stack ?? e),
  });
});

const code = await main(process.argv.slice(2));
process.exit(code);

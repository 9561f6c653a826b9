// The soak's alpnmux: its certificate-less config (built-in responder, a PROXY v2 route, the
// default to a plain backend, a 3 s hello timeout), the admin API calls (challenges, route
// swaps, /metrics), SIGHUP with a rewritten file, and /proc readings of its process tree.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  freePort,
  readProc,
  running,
  selfSignedCert,
  sleep,
  statusKiB,
  tree,
  waitListening,
} from "./proc.mjs";

export const HELLO_TIMEOUT_MS = 3000;
export const HOSTS = { web: "web.soak.test", proxied: "proxy.soak.test" };

function makeCert(dir) {
  const { cert, key } = selfSignedCert(dir, { cn: "soak.test", san: "DNS:*.soak.test", days: 2 });
  return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
}

/** Routes: acme-tls/1 to the built-in responder, proxy.soak.test with PROXY v2, `generation` a harmless extra route. */
function routeTable(web, proxied, generation) {
  return {
    routes: [
      { name: "acme", match: { acme: true }, target: { acme: "builtin" } },
      {
        name: "proxied",
        match: { sni: [HOSTS.proxied] },
        target: { upstream: `127.0.0.1:${proxied.port}`, proxy: "v2" },
      },
      { name: `generation-${generation}`, match: { sni: [`gen-${generation}.soak.test`] }, target: "reject" },
    ],
    default: { upstream: `127.0.0.1:${web.port}` },
  };
}

/** Starts the two backends and alpnmux (`opt.runtime`, `opt.workers`); returns the handle the load and the checks use. */
export async function startRouter(procs, { root, workDir, opt, backends, startBackend }) {
  const { cert, key } = makeCert(workDir);
  const web = await startBackend({ name: "web", cert, key, proxy: false });
  const proxied = await startBackend({ name: "proxied", cert, key, proxy: true });
  backends.push(web, proxied);
  const port = await freePort();
  const adminPort = await freePort();
  const token = crypto.randomBytes(24).toString("base64url");
  const file = path.join(workDir, "alpnmux.yaml");
  let generation = 0;
  const writeConfig = () =>
    fs.writeFileSync(
      file,
      JSON.stringify(
        {
          listen: [`127.0.0.1:${port}`],
          workers: opt.workers === "auto" ? "auto" : Number(opt.workers),
          helloTimeout: `${HELLO_TIMEOUT_MS}ms`,
          admin: { listen: `127.0.0.1:${adminPort}` },
          log: { level: "warning", format: "json" },
          ...routeTable(web, proxied, generation),
        },
        null,
        2,
      ),
    );
  writeConfig();
  const bin = path.join(root, "node_modules/.bin", opt.runtime === "deno" ? "alpnmux-deno" : "alpnmux");
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout?.trim();
  const c = procs.launch("alpnmux", bin, ["--config", file], {
    cwd: root,
    env: { ...process.env, ALPNMUX_ADMIN_TOKEN: token },
  });
  // Warning and error lines (log level warning): counted, the first few kept for the report.
  const logged = { warning: 0, error: 0, other: 0, examples: [] };
  let partial = "";
  const onOut = (d) => {
    const lines = (partial + d.toString()).split("\n");
    partial = lines.pop();
    for (const l of lines) {
      const level = /"level":"(\w+)"/.exec(l)?.[1]?.toLowerCase();
      if (level === "warning" || level === "warn") logged.warning++;
      else if (level === "error" || level === "fatal") logged.error++;
      else if (!l.trim()) continue;
      else if (!level) logged.other++; // not a log line: the runtime's own notices (a crash also ends the process)
      if (logged.examples.length < 8) logged.examples.push(l.slice(0, 300));
    }
  };
  c.proc.stdout.on("data", onOut);
  c.proc.stderr.on("data", onOut);
  await waitListening(port, c);
  await waitListening(adminPort, c);
  // node_modules/.bin/alpnmux is a sh script that execs the runtime: find the runtime's pid.
  const comm = (p) => readProc(p, "comm").trim();
  let pid = c.proc.pid;
  if (!/^(bun|deno)/.test(comm(pid))) pid = tree(pid).find((p) => /^(bun|deno)/.test(comm(p))) ?? pid;
  const pids = () => (running(c) ? tree(pid) : []);
  const wantProcs =
    opt.workers === "1"
      ? 1
      : 1 + (opt.workers === "auto" ? (await import("node:os")).availableParallelism() : Number(opt.workers));
  for (let i = 0; i < 200 && pids().length < wantProcs; i++) await sleep(50);
  await sleep(500);

  const admin = async (method, urlPath, body) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${text.slice(0, 200)}`);
    return text;
  };
  return {
    port,
    adminPort,
    version,
    proc: c,
    file,
    logged,
    pids,
    processes: wantProcs,
    backends: { web, proxied },
    alive: () => running(c) && pids().length >= wantProcs,
    /** RSS (VmRSS summed) and open descriptors of the process tree. */
    sample: () => {
      const ps = pids();
      let fds = 0;
      for (const p of ps) {
        try {
          fds += fs.readdirSync(`/proc/${p}/fd`).length;
        } catch {}
      }
      return { rssKiB: statusKiB(ps, "VmRSS"), fds, processes: ps.length };
    },
    setChallenge: (identifier, keyAuthorization) =>
      admin("PUT", `/v1/challenges/${identifier}`, { value: keyAuthorization, ttlSeconds: 60 }),
    deleteChallenge: (identifier) => admin("DELETE", `/v1/challenges/${identifier}`),
    /** PUT /v1/routes with the next generation of the extra route. */
    swapRoutes: () => admin("PUT", "/v1/routes", routeTable(web, proxied, ++generation)),
    /** Rewrites the file with the next generation and sends SIGHUP to the primary. */
    sighup: () => {
      generation++;
      writeConfig();
      process.kill(pid, "SIGHUP");
    },
    /** alpnmux_connections_active summed over its series (the primary sums its workers), or null. */
    activeConnections: async () => {
      try {
        const text = await admin("GET", "/metrics");
        return text
          .split("\n")
          .filter((l) => l.startsWith("alpnmux_connections_active"))
          .reduce((a, l) => a + Number(l.split(" ").pop()), 0);
      } catch {
        return null;
      }
    },
  };
}

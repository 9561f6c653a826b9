// The backend (one nginx, two TLS server blocks) and every target of the TLS benchmark: how each
// is configured and started. The config text each one ran with is returned in `config`, so the
// report and results.json show exactly what was measured.
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  freePort,
  lastOutput,
  readProc,
  running,
  selfSignedCert,
  sleep,
  threadCount,
  tree,
  waitListening,
  which,
} from "./proc.mjs";

const MiB = 1024 * 1024;
export const SMALL_PATH = "/small.txt";
export const BULK_PATH = "/10m.bin";
export const BULK_BYTES = 10 * MiB;
const SMALL_BODY = "hello from the nginx backend\n";

/** Checks the required Debian tools; throws one error naming every missing one and the apt-get line. */
export function requireTools() {
  const missing = [];
  const bins = {};
  for (const [cmd, pkg] of [
    ["wrk", "wrk"],
    ["nginx", "nginx"],
    ["haproxy", "haproxy"],
    ["openssl", "openssl"],
  ]) {
    bins[cmd] = which(cmd);
    if (!bins[cmd]) missing.push(pkg);
  }
  if (bins.nginx) {
    const info = nginxBuildInfo(bins.nginx);
    if (/--with-stream=dynamic/.test(info) && !streamModule()) missing.push("libnginx-mod-stream");
  }
  if (missing.length)
    throw new Error(
      `missing required tools: ${missing.join(", ")}\n  apt-get install -y --no-install-recommends ${missing.join(" ")}` +
        "\n(ualpn is optional: apt-get install uacme)",
    );
  bins.ualpn = which("ualpn");
  return bins;
}

const nginxBuildInfo = (bin) => {
  const r = spawnSync(bin, ["-V"], { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
};
const streamModule = () =>
  ["/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/share/nginx/modules/ngx_stream_module.so"].find((p) =>
    fs.existsSync(p),
  );

export function versions(bins) {
  const v = { node: process.version };
  const first = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0];
  };
  v.wrk = first(bins.wrk, ["-v"]);
  v.nginx = nginxBuildInfo(bins.nginx).split("\n")[0];
  v.haproxy = first(bins.haproxy, ["-v"]);
  v.openssl = first(bins.openssl, ["version"]);
  if (bins.ualpn) v.ualpn = first(bins.ualpn, ["-V"]);
  return v;
}

/** A self-signed ECDSA P-256 certificate for `localhost` and the two files the backend serves. */
export function makeFiles(dir, bins) {
  const { cert, key } = selfSignedCert(dir, {
    openssl: bins.openssl,
    cn: "localhost",
    san: "DNS:localhost",
    days: 7,
  });
  // nginx's workers run as nobody: the files and the (mkdtemp, 0700) directory must be readable.
  fs.chmodSync(dir, 0o755);
  const www = path.join(dir, "www");
  fs.mkdirSync(www, { mode: 0o755 });
  fs.writeFileSync(path.join(www, SMALL_PATH.slice(1)), SMALL_BODY);
  fs.writeFileSync(path.join(www, BULK_PATH.slice(1)), crypto.randomBytes(BULK_BYTES));
  return { cert, key, www };
}

/** nginx -p DIR -c DIR/nginx.conf in the foreground; returns the process and its config text. */
async function startNginx(procs, name, bin, dir, config, port) {
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  const file = path.join(dir, "nginx.conf");
  fs.writeFileSync(file, config);
  const c = procs.launch(name, bin, ["-p", dir, "-c", file, "-g", "daemon off;"], { cwd: dir });
  await waitListening(port, c);
  // Workers appear shortly after the master listens.
  for (let i = 0; i < 40 && tree(c.proc.pid).length < 2; i++) await sleep(25);
  return c;
}

/**
 * The TLS backend: one nginx (http), worker_processes auto, TLS 1.3 only, with the same content
 * on two ports: `plain` for direct and the relays, `proxy` (listen ... proxy_protocol) for the
 * routers that send a PROXY header. Every target is measured against this one nginx.
 */
export async function startBackend(procs, bins, workDir, files, { resume }) {
  const dir = path.join(workDir, "backend");
  const plain = await freePort();
  const proxy = await freePort();
  const config = `# The TLS backend every target is measured against (nginx http, TLS 1.3).
worker_processes auto;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 16384; }
http {
  access_log off;
  default_type application/octet-stream;
  keepalive_requests 1000000;   # (b) keeps each connection for the whole run (default 1000)
  keepalive_timeout 300s;
  client_header_timeout 300s;   # idle TLS connections wait this long for a request
  ssl_protocols TLSv1.3;
  ssl_certificate ${files.cert};       # ECDSA P-256, self-signed, CN=localhost
  ssl_certificate_key ${files.key};
${resume ? "" : "  ssl_session_tickets off;       # --no-resume: every handshake is a full one\n"}  root ${files.www};            # ${SMALL_PATH.slice(1)} (${SMALL_BODY.length} bytes), ${BULK_PATH.slice(1)} (10 MiB)
  server { listen 127.0.0.1:${plain} ssl; }                 # direct, relays
  server { listen 127.0.0.1:${proxy} ssl proxy_protocol; }  # routers that send PROXY v1/v2
}
`;
  const c = await startNginx(procs, "backend nginx", bins.nginx, dir, config, plain);
  return { plain, proxy, config, pids: () => tree(c.proc.pid), proc: c };
}

/** One target: `start()` resolves to the running target or throws; optional ones may be "not installed". */
export function targetList({ bins, backend, acmePort, workDir, root, cores, alpnmuxes }) {
  const t = [];
  t.push({
    id: "direct",
    label: "direct (wrk → nginx)",
    kind: "direct",
    start: async () => ({ port: backend.plain, pids: () => [], config: "", command: "" }),
  });
  for (const threads of [1, null]) {
    t.push({
      id: threads ? "haproxy-1" : "haproxy-auto",
      label: threads ? "HAProxy, nbthread 1" : `HAProxy, nbthread default (= cores, ${cores})`,
      kind: "incumbent",
      scale: threads ? "one" : "auto",
      start: (procs) => startHaproxy(procs, { bins, backend, acmePort, workDir, threads }),
    });
  }
  for (const workers of ["1", "auto"]) {
    t.push({
      id: `nginx-${workers}`,
      label: `nginx stream, worker_processes ${workers}${workers === "auto" ? ` (${cores})` : ""}`,
      kind: "incumbent",
      scale: workers === "1" ? "one" : "auto",
      start: (procs) => startNginxStream(procs, { bins, backend, acmePort, workDir, workers }),
    });
  }
  t.push({
    id: "ualpn",
    label: "ualpn -n 1",
    kind: "other",
    optional: true,
    start: (procs) => startUalpn(procs, { bins, backend, workDir }),
  });
  t.push({
    id: "relay-bun",
    label: "relay on Bun (bench/relay-bun.ts)",
    kind: "relay",
    runtime: "bun",
    start: (procs) =>
      startCommand(procs, "relay-bun", path.join(root, "node_modules/.bin/bun"), (port) => [
        path.join(root, "bench/relay-bun.ts"),
        String(port),
        String(backend.plain),
      ]),
  });
  t.push({
    id: "relay-deno",
    label: "relay on Deno (bench/relay-deno.ts)",
    kind: "relay",
    runtime: "deno",
    start: (procs) =>
      startCommand(procs, "relay-deno", path.join(root, "node_modules/.bin/deno"), (port) => [
        "run",
        "--allow-net",
        path.join(root, "bench/relay-deno.ts"),
        String(port),
        String(backend.plain),
      ]),
  });
  for (const [id, bin] of alpnmuxes) {
    t.push({
      id,
      label:
        id === "alpnmux-bun"
          ? "alpnmux on Bun"
          : id === "alpnmux-deno"
            ? "alpnmux on Deno"
            : `${id} (${bin})`,
      kind: "alpnmux",
      runtime: id === "alpnmux-deno" ? "deno" : id === "alpnmux-bun" ? "bun" : undefined,
      workers: 1,
      start: (procs) => startAlpnmux(procs, id, bin, { backend, acmePort, root }),
    });
  }
  // alpnmux with `--workers auto` (one process per core, SO_REUSEPORT), against the incumbents
  // at their defaults (HAProxy nbthread = cores, nginx worker_processes auto).
  for (const runtime of ["bun", "deno"]) {
    const bin = alpnmuxes.find(([id]) => id === `alpnmux-${runtime}`)?.[1];
    if (!bin) continue;
    t.push({
      id: `alpnmux-${runtime}-workers`,
      label: `alpnmux on ${runtime === "bun" ? "Bun" : "Deno"}, --workers auto (${cores})`,
      kind: "alpnmux",
      runtime,
      workers: cores,
      start: (procs) =>
        startAlpnmux(procs, `alpnmux-${runtime}-workers`, bin, {
          backend,
          acmePort,
          root,
          extra: ["--workers", "auto"],
          workers: cores,
        }),
    });
  }
  return t;
}

async function startCommand(procs, name, bin, args, opts = {}) {
  const port = await freePort();
  const argv = args(port);
  const c = procs.launch(name, bin, argv, opts);
  await waitListening(port, c);
  return { port, pids: () => tree(c.proc.pid), proc: c, command: [bin, ...argv].join(" "), config: "" };
}

async function startHaproxy(procs, { bins, backend, acmePort, workDir, threads }) {
  const dir = fs.mkdtempSync(path.join(workDir, "haproxy-"));
  const port = await freePort();
  const config = `global
  ${threads ? `nbthread ${threads}` : `# nbthread: HAProxy's default, one thread per CPU (${os.availableParallelism()} here)`}
  maxconn 5000

defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s

frontend tls
  bind 127.0.0.1:${port}
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend acme if { req.ssl_alpn acme-tls/1 }
  default_backend web

backend acme
  server acme 127.0.0.1:${acmePort}

backend web
  server web 127.0.0.1:${backend.proxy} send-proxy-v2
`;
  const file = path.join(dir, "haproxy.cfg");
  fs.writeFileSync(file, config);
  return launchAt(
    procs,
    `haproxy${threads ? "-1" : ""}`,
    bins.haproxy,
    ["-f", file, "-db"],
    port,
    config,
    dir,
  );
}

async function launchAt(procs, name, bin, args, port, config, cwd) {
  const c = procs.launch(name, bin, args, { cwd });
  await waitListening(port, c);
  const pids = () => tree(c.proc.pid);
  return { port, pids, proc: c, config, command: [bin, ...args].join(" "), threads: threadCount(pids()) };
}

async function startNginxStream(procs, { bins, backend, acmePort, workDir, workers }) {
  const dir = fs.mkdtempSync(path.join(workDir, `nginx-${workers}-`));
  const port = await freePort();
  const so = streamModule();
  const config = `${so ? `load_module ${so};\n` : ""}worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 16384; }

stream {
  map $ssl_preread_alpn_protocols $upstream {
    ~\\bacme-tls/1\\b acme;
    default web;
  }
  upstream acme { server 127.0.0.1:${acmePort}; }
  upstream web  { server 127.0.0.1:${backend.proxy}; }
  server {
    listen 127.0.0.1:${port};
    ssl_preread on;
    proxy_half_close on;
    proxy_protocol on;   # PROXY v1 (nginx sends no v2), to both upstreams
    proxy_pass $upstream;
  }
}
`;
  const c = await startNginx(procs, `nginx-${workers}`, bins.nginx, dir, config, port);
  const pids = () => tree(c.proc.pid);
  return {
    port,
    pids,
    proc: c,
    config,
    command: `${bins.nginx} -p ${dir} -c ${dir}/nginx.conf -g 'daemon off;'`,
    processes: pids().length,
  };
}

async function startUalpn(procs, { bins, backend, workDir }) {
  if (!bins.ualpn) {
    const e = new Error("ualpn not installed (apt-get install uacme)");
    e.status = "not installed";
    throw e;
  }
  const dir = fs.mkdtempSync(path.join(workDir, "ualpn-"));
  const port = await freePort();
  const args = [
    "-n",
    "1",
    "-b",
    `127.0.0.1@${port}`,
    "-c",
    `127.0.0.1@${backend.proxy}`,
    "-P",
    "2",
    "-p",
    path.join(dir, "ualpn.pid"),
    "-s",
    path.join(dir, "ualpn.sock"),
  ];
  return launchAt(procs, "ualpn", bins.ualpn, args, port, "", dir);
}

async function startAlpnmux(procs, name, bin, { backend, acmePort, root, extra = [], workers = 1 }) {
  if (!fs.existsSync(bin)) throw new Error(`${bin} not found: run npm install`);
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout?.trim();
  const port = await freePort();
  // No --config: the embedded defaults plus these flags only.
  const args = [
    "--listen",
    `127.0.0.1:${port}`,
    "--acme",
    `127.0.0.1:${acmePort}`,
    "--default",
    `127.0.0.1:${backend.proxy}`,
    "--default-proxy",
    "v2",
    "--log-level",
    "warning",
    ...extra,
  ];
  const c = procs.launch(name, bin, args, { cwd: root });
  await waitListening(port, c);
  // node_modules/.bin/alpnmux is a sh script that execs bun (or deno): the pid is the runtime's.
  let pid = c.proc.pid;
  const comm = (p) => readProc(p, "comm").trim();
  if (!/^(bun|deno)/.test(comm(pid))) pid = tree(pid).find((p) => /^(bun|deno)/.test(comm(p))) ?? pid;
  const runtime = /^deno/.test(comm(pid)) ? "deno" : "bun";
  // With workers the primary does not listen; the first worker to listen made waitListening
  // return. Wait until every worker process is up (primary + N), then give them a moment to bind.
  const runtimes = () => tree(pid).filter((p) => /^(bun|deno)/.test(comm(p))).length;
  if (workers > 1) {
    const deadline = Date.now() + 20000;
    while (runtimes() < workers + 1) {
      if (Date.now() > deadline || !running(c))
        throw new Error(`${name}: ${runtimes() - 1} of ${workers} workers started: ${lastOutput(c)}`);
      await sleep(50);
    }
    await sleep(500);
  }
  return {
    port,
    pids: () => (running(c) ? tree(pid) : []),
    proc: c,
    config: "",
    command: [bin, ...args].join(" "),
    version,
    runtime,
    processes: runtimes(),
  };
}

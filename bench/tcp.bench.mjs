#!/usr/bin/env node
// Raw TCP router benchmark (the earlier `npm run bench`, kept for splice-path work; the TLS
// benchmark with real clients and servers is bench/tls.bench.mjs): alpnmux vs HAProxy (tcp mode,
// req.ssl_alpn) vs nginx (stream + ssl_preread), plus a direct baseline (client → backend, no
// router), with Node clients and backends that send a captured ClientHello and then raw bytes.
//
//   node bench/tcp.bench.mjs [--quick] [--no-nginx] [--no-haproxy] [--alpnmux NAME=BIN] [--json FILE]
//
// Phases (see bench/README.md):
//   1. throughput: one connection, a real ClientHello then N MiB client → backend ("up") and
//      backend → client ("down"); MiB/s, median of REPS runs per target.
//   2. connection rate / routing latency: C workers, TOTAL connections, each sends a hello
//      (acme-tls/1 for 1 in 10, else curl's h2 hello) and waits for the backend's 1-byte reply;
//      connections/s and p50/p99 connect→reply latency. The reply byte says which backend
//      answered, so every connection also checks the routing decision.
//   3. memory: peak RSS (VmHWM) of each router after the runs (nginx: master + workers).
// Results: a table on stdout, and with --json FILE the JSON document.
//
// Backends run in a child Node process (this file with --backend) so the client and the servers do
// not share one event loop. Every router and backend is killed at the end, also on errors.

import { execFileSync, fork, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Backend child process: sink / source / 1-byte reply servers, mode switched over IPC.
// ---------------------------------------------------------------------------------------------
if (process.argv.includes("--backend")) {
  let mode = { kind: "reply" }; // reply | sink | source
  const chunk = Buffer.alloc(CHUNK, 0x61);
  // The sink reads into one reused 1 MiB buffer (what `net.connect({ onread })` does on the client
  // side): plain 'data' events allocate a Buffer per 64 KiB read and cap a Node receiver near
  // 1.5 GiB/s, below what the routers can do. Node has no public `onread` for accepted sockets,
  // so this borrows the internal symbols from a probe socket, and falls back to 'data' events.
  const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => {} } });
  const syms = Object.getOwnPropertySymbols(probe);
  const kBuffer = syms.find((x) => x.description === "kBuffer");
  const kBufferCb = syms.find((x) => x.description === "kBufferCb");
  probe.destroy();
  const sinkBuf = Buffer.allocUnsafe(MiB);
  let sinkReads = "plain";
  const make = (tag) =>
    net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (s) => {
      s.on("error", () => {});
      const m = mode;
      if (m.kind === "sink") {
        let n = 0;
        if (kBuffer && kBufferCb && typeof s._handle?.useUserBuffer === "function") {
          s[kBuffer] = sinkBuf;
          s[kBufferCb] = (k) => {
            n += k;
          };
          s._handle.useUserBuffer(sinkBuf);
          sinkReads = "user-buffer";
        } else {
          s.on("data", (d) => {
            n += d.length;
          });
        }
        s.on("end", () => s.end(String(n)));
      } else if (m.kind === "source") {
        let started = false;
        s.on("data", () => {
          if (started) return;
          started = true;
          let left = m.bytes;
          const pump = () => {
            while (left > 0) {
              const n = Math.min(left, CHUNK);
              left -= n;
              const ok = s.write(n === CHUNK ? chunk : chunk.subarray(0, n));
              if (!ok) {
                s.once("drain", pump);
                return;
              }
            }
            s.end();
          };
          pump();
        });
        s.on("end", () => {
          if (!started) s.end();
        });
      } else {
        let replied = false;
        s.on("data", () => {
          if (!replied) {
            replied = true;
            s.write(tag);
          }
        });
        s.on("end", () => s.end());
      }
      s.resume();
    });
  const servers = { acme: make("A"), web: make("D") };
  await Promise.all(Object.values(servers).map((srv) => new Promise((r) => srv.listen(0, "127.0.0.1", r))));
  process.on("message", (msg) => {
    if (msg.type === "mode") {
      mode = msg.mode;
      process.send({ type: "ack", id: msg.id, sinkReads });
    } else if (msg.type === "exit") {
      process.exit(0);
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready", acme: servers.acme.address().port, web: servers.web.address().port });
  // Keep running until told to exit or the parent goes away.
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// Driver.
// ---------------------------------------------------------------------------------------------
async function main() {
  const argv = process.argv.slice(2);
  const quick = argv.includes("--quick");
  const cfg = {
    quick,
    mib: quick ? 128 : 1024,
    reps: quick ? 2 : 5,
    connReps: quick ? 1 : 3,
    conns: quick ? 1000 : 5000,
    warmupConns: quick ? 100 : 300,
    concurrency: 8,
    acmeEvery: 10,
  };
  const HELLO_H2 = fs.readFileSync(path.join(ROOT, "packages/core/src/_testdata/hellos/curl-http2.bin"));
  const HELLO_ACME = fs.readFileSync(path.join(ROOT, "packages/core/src/_testdata/hellos/go-pebble-va.bin"));

  const children = new Set(); // { name, proc, group }
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "alpnmux-bench-"));
  let cleaned = false;
  let interrupted = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) killGroup(c, "SIGKILL");
    try {
      fs.rmSync(workDir, { recursive: true, force: true });
    } catch {}
  };
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, async () => {
      interrupted = true;
      for (const c of children) killGroup(c, "SIGTERM"); // nginx's master then reaps its workers
      await reaped([...children]);
      for (const c of children) killGroup(c, "SIGKILL");
      await reaped([...children]);
      cleanup();
      process.exit(130);
    });
  }

  const log = (s) => process.stdout.write(`${s}\n`);
  log(
    `router bench: ${cfg.mib} MiB x ${cfg.reps} per direction, ${cfg.conns} connections x ${cfg.connReps} (${cfg.concurrency} workers)` +
      ` (${os.cpus().length} cores, node ${process.version}${quick ? ", --quick" : ""})`,
  );

  let exitCode = 0;
  try {
    // Backends.
    const backend = fork(fileURLToPath(import.meta.url), ["--backend"], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.add({ name: "backend", proc: backend, group: false });
    const ports = await new Promise((resolve, reject) => {
      backend.once("message", resolve);
      backend.once("exit", (c) => reject(new Error(`backend exited (${c})`)));
    });
    let msgId = 0;
    const setMode = (mode) =>
      new Promise((resolve) => {
        const id = ++msgId;
        const on = (m) => {
          if (m.type === "ack" && m.id === id) {
            backend.off("message", on);
            if (m.sinkReads) cfg.sinkReads = m.sinkReads;
            resolve();
          }
        };
        backend.on("message", on);
        backend.send({ type: "mode", mode, id });
      });

    // Routers.
    const targets = [{ name: "direct", port: ports.web, acmePort: ports.acme, pids: () => [] }];
    const versions = {};
    // `--alpnmux NAME=BIN` (repeatable) benchmarks other alpnmux commands in the same run, e.g. the
    // Deno listener or a checkout of an earlier commit: `--alpnmux before=/tmp/old/node_modules/.bin/alpnmux`.
    const extra = argv.flatMap((a, i) => (a === "--alpnmux" && argv[i + 1] ? [argv[i + 1]] : []));
    const alpnmuxes = [
      ["alpnmux", path.join(ROOT, "node_modules/.bin/alpnmux")],
      ...extra.map((e) => e.split("=")),
    ];
    for (const [name, bin] of alpnmuxes)
      targets.push(await startAlpnmux(ports, children, workDir, versions, name, bin));
    if (!argv.includes("--no-haproxy")) {
      const t = await startHaproxy(ports, children, workDir, versions).catch((e) => {
        log(`haproxy: skipped (${e.message})`);
        return null;
      });
      if (t) targets.push(t);
    }
    if (!argv.includes("--no-nginx")) {
      const t = await startNginx(ports, children, workDir, versions).catch((e) => {
        log(`nginx: skipped (${e.message})`);
        return null;
      });
      if (t) targets.push(t);
    }
    const routers = targets.filter((t) => t.name !== "direct");
    for (const t of routers) t.rssIdleKiB = sumStatus(t.pids(), "VmRSS");

    // Sanity + warm-up: routing through each router, both routes.
    await setMode({ kind: "reply" });
    for (const t of targets) {
      if (t.name === "direct") continue;
      const r = await connRun(t, cfg.warmupConns, cfg.concurrency, cfg.acmeEvery, HELLO_H2, HELLO_ACME);
      if (r.misrouted || r.errors)
        throw new Error(`${t.name}: warm-up had ${r.misrouted} misrouted, ${r.errors} errors`);
    }

    const results = Object.fromEntries(
      targets.map((t) => [t.name, { up: [], down: [], cpu: {}, hwmKiB: {}, cpuSplit: {} }]),
    );
    const snapHwm = (phase) => {
      for (const t of routers) results[t.name].hwmKiB[phase] = sumStatus(t.pids(), "VmHWM");
    };
    snapHwm("afterWarmup");
    // CPU accounting: the router's own CPU, and CPU used by processes that are not part of this
    // benchmark (the machine may be shared): system busy time minus ours, as an approximate noise gauge.
    const allOurPids = () => [process.pid, backend.pid, ...routers.flatMap((t) => t.pids())];
    const foreignLoad = [];
    const measure = async (t, fn, kind) => {
      const split0 = cpuSplitMs(t.pids());
      const c0 = sumCpuMs(t.pids());
      const s0 = sysBusyMs();
      const o0 = sumCpuMs(allOurPids());
      const w0 = performance.now();
      const r = await fn();
      const wall = performance.now() - w0;
      const cpu = sumCpuMs(t.pids()) - c0;
      const foreign = Math.max(0, sysBusyMs() - s0 - (sumCpuMs(allOurPids()) - o0));
      foreignLoad.push(foreign / wall);
      const split1 = cpuSplitMs(t.pids());
      results[t.name].cpuSplit[kind] ??= { userMs: 0, sysMs: 0 };
      const acc = results[t.name].cpuSplit[kind];
      acc.userMs += split1.user - split0.user;
      acc.sysMs += split1.sys - split0.sys;
      return { r, cpu, foreignPct: (100 * foreign) / wall };
    };

    // 1. Throughput, rotating the target order each rep.
    for (const dir of ["up", "down"]) {
      await setMode(dir === "up" ? { kind: "sink" } : { kind: "source", bytes: cfg.mib * MiB });
      for (let rep = 0; rep < cfg.reps; rep++) {
        for (const t of rotate(targets, rep)) {
          const { r, cpu, foreignPct } = await measure(
            t,
            () =>
              dir === "up"
                ? upload(t.port, HELLO_H2, cfg.mib * MiB)
                : download(t.port, HELLO_H2, cfg.mib * MiB),
            "throughput",
          );
          const mibs = cfg.mib / r.seconds;
          results[t.name][dir].push(mibs);
          results[t.name].cpu[dir] = (results[t.name].cpu[dir] ?? 0) + cpu;
          log(
            `  ${dir.padEnd(4)} rep ${rep + 1}/${cfg.reps} ${t.name.padEnd(8)} ${mibs.toFixed(0).padStart(6)} MiB/s` +
              `  router CPU ${(cpu / 1000).toFixed(2)} s  other load ${foreignPct.toFixed(0)}%`,
          );
        }
      }
      snapHwm(dir === "up" ? "afterUpload" : "afterDownload");
    }

    // 2. Connection rate / latency: connReps rounds, target order rotated; conn/s is the median
    // round, percentiles are over all connections of all rounds.
    await setMode({ kind: "reply" });
    const connAcc = Object.fromEntries(
      targets.map((t) => [t.name, { rates: [], lat: [], errors: 0, misrouted: 0, cpu: 0, n: 0 }]),
    );
    for (let rep = 0; rep < cfg.connReps; rep++) {
      for (const t of rotate(targets, rep + 1)) {
        const { r, cpu, foreignPct } = await measure(
          t,
          () => connRun(t, cfg.conns, cfg.concurrency, cfg.acmeEvery, HELLO_H2, HELLO_ACME),
          "connections",
        );
        const acc = connAcc[t.name];
        acc.rates.push(r.total / r.seconds);
        acc.lat.push(...r.lat);
        acc.errors += r.errors;
        acc.misrouted += r.misrouted;
        acc.cpu += cpu;
        acc.n += r.total;
        log(
          `  conn rep ${rep + 1}/${cfg.connReps} ${t.name.padEnd(8)} ${(r.total / r.seconds).toFixed(0).padStart(6)} conn/s  p50 ${pct(r.lat, 50).toFixed(3)} ms` +
            `  p99 ${pct(r.lat, 99).toFixed(3)} ms  errors ${r.errors} misrouted ${r.misrouted}  other load ${foreignPct.toFixed(0)}%`,
        );
        if (r.errors || r.misrouted) exitCode = 1;
      }
    }
    for (const t of targets) {
      const acc = connAcc[t.name];
      acc.lat.sort((x, y) => x - y);
      results[t.name].conn = {
        connsPerSec: median(acc.rates),
        connsPerSecSamples: acc.rates,
        p50ms: pct(acc.lat, 50),
        p90ms: pct(acc.lat, 90),
        p99ms: pct(acc.lat, 99),
        maxms: acc.lat[acc.lat.length - 1],
        errors: acc.errors,
        misrouted: acc.misrouted,
        routerCpuMsPerConn: t.name === "direct" ? null : acc.cpu / acc.n,
      };
    }
    snapHwm("afterConnections");

    // 3. Memory.
    for (const t of routers) {
      results[t.name].rssPeakKiB = sumStatus(t.pids(), "VmHWM");
      results[t.name].rssIdleKiB = t.rssIdleKiB;
      results[t.name].processes = t.pids().length;
    }
    cfg.otherLoadPct = {
      mean: (100 * foreignLoad.reduce((x, y) => x + y, 0)) / Math.max(1, foreignLoad.length),
      max: 100 * Math.max(0, ...foreignLoad),
    };

    report(cfg, targets, results, versions);
    backend.send({ type: "exit" });
  } catch (e) {
    if (interrupted) return; // the signal handler exits
    process.stderr.write(`router bench failed: ${e.stack ?? e}\n`);
    for (const c of children)
      if (c.tail?.length) process.stderr.write(`--- ${c.name} output ---\n${c.tail.join("")}\n`);
    exitCode = 1;
  } finally {
    await stopAll(children);
    cleanup();
  }
  process.exit(exitCode);
}

// ---------------------------------------------------------------------------------------------
// Routers.
// ---------------------------------------------------------------------------------------------
async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function launch(name, cmd, args, children, opts = {}) {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...opts });
  const c = { name, proc, group: true, tail: [] };
  const keep = (d) => {
    c.tail.push(d.toString());
    if (c.tail.length > 40) c.tail.shift();
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  proc.on("error", (e) => keep(`spawn error: ${e.message}\n`));
  children.add(c);
  return c;
}

async function waitListening(port, c, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
      throw new Error(
        `${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}): ${c.tail.join("").trim().slice(-800)}`,
      );
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(
    `${c.name} did not listen on ${port} within ${ms} ms: ${c.tail.join("").trim().slice(-800)}`,
  );
}

async function startAlpnmux(ports, children, _workDir, versions, name, bin) {
  if (!fs.existsSync(bin)) throw new Error(`${bin} not found: run npm install`);
  try {
    versions[name] = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  const port = await freePort();
  // No --config: the embedded defaults plus these flags only.
  const args = [
    "--listen",
    `127.0.0.1:${port}`,
    "--acme",
    `127.0.0.1:${ports.acme}`,
    "--default",
    `127.0.0.1:${ports.web}`,
    "--log-level",
    "warning",
  ];
  const c = launch(name, bin, args, children, { cwd: ROOT });
  await waitListening(port, c);
  // node_modules/.bin/alpnmux is a sh script that execs bun: the pid is bun's. Check it.
  const comm = readProc(c.proc.pid, "comm").trim();
  let pid = c.proc.pid;
  if (!/^(bun|deno)/.test(comm)) {
    const kid = childPids(pid).find((p) => /^(bun|deno)/.test(readProc(p, "comm").trim()));
    if (kid) pid = kid;
  }
  return { name, port, pids: () => alive([pid, ...descendants(pid)]) };
}

async function startHaproxy(ports, children, workDir, versions) {
  const bin = which("haproxy", ["/usr/sbin/haproxy"]);
  if (!bin) throw new Error("haproxy not installed (apt-get install haproxy)");
  versions.haproxy = execFileSync(bin, ["-v"], { encoding: "utf8" }).split("\n")[0];
  const port = await freePort();
  const dir = path.join(workDir, "haproxy");
  fs.mkdirSync(dir);
  const cfgFile = path.join(dir, "haproxy.cfg");
  fs.writeFileSync(
    cfgFile,
    `global
  nbthread 1
  maxconn 4000

defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend tls
  bind 127.0.0.1:${port}
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend acme if { req.ssl_alpn acme-tls/1 }
  default_backend web

backend acme
  server acme 127.0.0.1:${ports.acme}

backend web
  server web 127.0.0.1:${ports.web}
`,
  );
  const c = launch("haproxy", bin, ["-f", cfgFile, "-db"], children, { cwd: dir });
  await waitListening(port, c);
  return { name: "haproxy", port, pids: () => alive([c.proc.pid, ...descendants(c.proc.pid)]) };
}

async function startNginx(ports, children, workDir, versions) {
  const bin = which("nginx", ["/usr/sbin/nginx"]);
  if (!bin) throw new Error("nginx not installed (apt-get install nginx)");
  const vr = spawnSync(bin, ["-V"], { encoding: "utf8" });
  const info = `${vr.stdout ?? ""}${vr.stderr ?? ""}`;
  versions.nginx = info.split("\n").find((l) => l.startsWith("nginx version")) ?? "nginx";
  let loadModule = "";
  if (/--with-stream=dynamic/.test(info)) {
    const so = [
      "/usr/lib/nginx/modules/ngx_stream_module.so",
      "/usr/share/nginx/modules/ngx_stream_module.so",
    ].find((p) => fs.existsSync(p));
    if (!so)
      throw new Error(
        "nginx stream module is dynamic but not installed (apt-get install libnginx-mod-stream)",
      );
    loadModule = `load_module ${so};`;
  } else if (!/--with-stream\b/.test(info)) {
    throw new Error("nginx was built without the stream module");
  }
  const port = await freePort();
  const dir = path.join(workDir, "nginx");
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
  const cfgFile = path.join(dir, "nginx.conf");
  fs.writeFileSync(
    cfgFile,
    `${loadModule}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }

stream {
  map $ssl_preread_alpn_protocols $upstream {
    ~\\bacme-tls/1\\b acme;
    default web;
  }
  upstream acme { server 127.0.0.1:${ports.acme}; }
  upstream web  { server 127.0.0.1:${ports.web}; }
  server {
    listen 127.0.0.1:${port};
    ssl_preread on;
    proxy_half_close on;
    proxy_pass $upstream;
  }
}
`,
  );
  const c = launch("nginx", bin, ["-p", dir, "-c", cfgFile, "-g", "daemon off;"], children, { cwd: dir });
  await waitListening(port, c);
  // Workers appear shortly after the master listens.
  for (let i = 0; i < 40 && descendants(c.proc.pid).length === 0; i++) await sleep(25);
  return { name: "nginx", port, pids: () => alive([c.proc.pid, ...descendants(c.proc.pid)]) };
}

function killGroup(c, sig) {
  const pid = c.proc.pid;
  if (!pid) return;
  try {
    if (c.group) process.kill(-pid, sig);
    else process.kill(pid, sig);
  } catch {}
}

async function stopAll(children) {
  const list = [...children];
  for (const c of list) killGroup(c, "SIGTERM");
  const deadline = Date.now() + 3000;
  for (const c of list) {
    while (Date.now() < deadline && c.proc.exitCode === null && c.proc.signalCode === null) await sleep(25);
    killGroup(c, "SIGKILL");
  }
  await reaped(list);
}

/** Waits (up to 1 s) until Node has seen every child exit, so none is left as a zombie. */
async function reaped(list) {
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline && list.some((c) => c.proc.exitCode === null && c.proc.signalCode === null))
    await sleep(20);
}

// ---------------------------------------------------------------------------------------------
// Client workloads.
// ---------------------------------------------------------------------------------------------
function upload(port, hello, bytes) {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(CHUNK, 0x62);
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true, noDelay: true });
    let t0 = 0n;
    let reply = "";
    s.on("error", reject);
    s.on("connect", () => {
      t0 = process.hrtime.bigint();
      s.write(hello);
      let left = bytes;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, CHUNK);
          left -= n;
          if (!s.write(n === CHUNK ? chunk : chunk.subarray(0, n))) {
            s.once("drain", pump);
            return;
          }
        }
        s.end();
      };
      pump();
    });
    s.on("data", (d) => {
      reply += d.toString();
    });
    s.on("end", () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      s.destroy();
      const want = hello.length + bytes;
      if (Number(reply) !== want)
        reject(new Error(`upload: backend counted ${reply || "nothing"}, sent ${want}`));
      else resolve({ seconds });
    });
  });
}

function download(port, hello, bytes) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const s = net.connect({
      port,
      host: "127.0.0.1",
      allowHalfOpen: true,
      noDelay: true,
      // One reused receive buffer: 'data' events would allocate per read and cap the client.
      onread: {
        buffer: Buffer.allocUnsafe(MiB),
        callback: (n) => {
          got += n;
        },
      },
    });
    let t0 = 0n;
    s.on("error", reject);
    s.on("connect", () => {
      t0 = process.hrtime.bigint();
      s.write(hello);
    });
    s.on("end", () => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      s.destroy();
      if (got !== bytes) reject(new Error(`download: received ${got} of ${bytes} bytes`));
      else resolve({ seconds });
    });
  });
}

/** One connection: connect, send the hello, wait for the 1-byte reply, close. */
function oneConn(port, hello, expect) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = net.connect({ port, host: "127.0.0.1", noDelay: true });
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ error: "timeout" }), 10000);
    s.on("connect", () => s.write(hello));
    s.on("data", (d) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      finish({ ms, ok: String.fromCharCode(d[0]) === expect });
    });
    s.on("error", (e) => finish({ error: e.code ?? e.message }));
    s.on("end", () => finish({ error: "closed without reply" }));
  });
}

async function connRun(target, total, concurrency, acmeEvery, helloH2, helloAcme) {
  let next = 0;
  const lat = [];
  let errors = 0;
  let misrouted = 0;
  const errKinds = {};
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const acme = i % acmeEvery === 0;
      const port = acme && target.acmePort ? target.acmePort : target.port; // direct: the client picks
      const r = await oneConn(port, acme ? helloAcme : helloH2, acme ? "A" : "D");
      if (r.error) {
        errors++;
        errKinds[r.error] = (errKinds[r.error] ?? 0) + 1;
      } else {
        lat.push(r.ms);
        if (!r.ok) misrouted++;
      }
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  if (errors) process.stderr.write(`  ${target.name}: connection errors ${JSON.stringify(errKinds)}\n`);
  return { total, seconds, lat, errors, misrouted };
}

// ---------------------------------------------------------------------------------------------
// /proc helpers.
// ---------------------------------------------------------------------------------------------
function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}
function childPids(pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const stat = readProc(d, "stat");
    const m = stat.match(/\) \S+ (\d+)/);
    if (m && Number(m[1]) === pid) out.push(Number(d));
  }
  return out;
}
function descendants(pid) {
  const out = [];
  for (const k of childPids(pid)) out.push(k, ...descendants(k));
  return out;
}
function alive(pids) {
  return pids.filter((p) => readProc(p, "status") !== "");
}
function sumStatus(pids, key) {
  let kib = 0;
  for (const p of pids) {
    const m = readProc(p, "status").match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    if (m) kib += Number(m[1]);
  }
  return kib;
}
/** utime + stime of the processes, in ms. */
function sumCpuMs(pids) {
  const { user, sys } = cpuSplitMs(pids);
  return user + sys;
}
/** utime and stime of the processes, in ms. */
function cpuSplitMs(pids) {
  const hz = 100; // USER_HZ on Linux
  let user = 0;
  let sys = 0;
  for (const p of pids) {
    const stat = readProc(p, "stat");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    user += Number(rest[11] ?? 0);
    sys += Number(rest[12] ?? 0);
  }
  return { user: (user * 1000) / hz, sys: (sys * 1000) / hz };
}
/** Busy CPU time of the whole machine (user + nice + system, all cores), in ms. */
function sysBusyMs() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  return ((Number(f[1]) + Number(f[2]) + Number(f[3])) * 1000) / 100;
}
function which(cmd, also) {
  for (const d of [...(process.env.PATH ?? "").split(":"), ...also.map(path.dirname)]) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Report.
// ---------------------------------------------------------------------------------------------
function report(cfg, targets, results, versions) {
  const names = targets.map((t) => t.name);
  const row = (cells, w) => cells.map((c, i) => String(c).padStart(w[i])).join("  ");
  const w = [8, 11, 11, 9, 9, 9, 11, 11];
  const lines = [];
  lines.push("");
  lines.push(
    row(["target", "up MiB/s", "down MiB/s", "conn/s", "p50 ms", "p99 ms", "peak RSS", "idle RSS"], w),
  );
  const summary = {};
  for (const n of names) {
    const r = results[n];
    const s = {
      upMiBps: median(r.up),
      downMiBps: median(r.down),
      upSamples: r.up.map(round1),
      downSamples: r.down.map(round1),
      connsPerSec: r.conn?.connsPerSec,
      connsPerSecSamples: r.conn?.connsPerSecSamples.map(round1),
      p50ms: r.conn?.p50ms,
      p90ms: r.conn?.p90ms,
      p99ms: r.conn?.p99ms,
      maxms: r.conn?.maxms,
      errors: r.conn?.errors,
      misrouted: r.conn?.misrouted,
    };
    if (n !== "direct") {
      s.rssPeakMiB = r.rssPeakKiB / 1024;
      s.rssIdleMiB = r.rssIdleKiB / 1024;
      s.processes = r.processes;
      s.rssHwmMiBByPhase = Object.fromEntries(Object.entries(r.hwmKiB).map(([k, v]) => [k, v / 1024]));
      s.routerCpuSecPerGiB = {
        up: r.cpu.up / 1000 / ((cfg.mib * cfg.reps) / 1024),
        down: r.cpu.down / 1000 / ((cfg.mib * cfg.reps) / 1024),
      };
      s.routerCpuMsPerConn = r.conn?.routerCpuMsPerConn;
      // Share of the router's CPU spent in user space (the rest is the kernel: syscalls, copies).
      s.routerCpuUserShare = Object.fromEntries(
        Object.entries(r.cpuSplit).map(([k, v]) => [k, v.userMs / Math.max(1, v.userMs + v.sysMs)]),
      );
    }
    summary[n] = s;
    lines.push(
      row(
        [
          n,
          s.upMiBps.toFixed(0),
          s.downMiBps.toFixed(0),
          s.connsPerSec?.toFixed(0) ?? "-",
          s.p50ms?.toFixed(3) ?? "-",
          s.p99ms?.toFixed(3) ?? "-",
          n === "direct" ? "-" : `${s.rssPeakMiB.toFixed(1)} MiB`,
          n === "direct" ? "-" : `${s.rssIdleMiB.toFixed(1)} MiB`,
        ],
        w,
      ),
    );
  }
  const cpuW = [8, 14, 14, 14];
  lines.push("");
  lines.push(
    row(
      ["router", "CPU s/GiB up", "CPU s/GiB dn", "CPU ms/conn", "user% bytes", "user% conns"],
      [...cpuW, 12, 12],
    ),
  );
  for (const n of names.filter((x) => x !== "direct")) {
    const s = summary[n];
    const u = s.routerCpuUserShare;
    lines.push(
      row(
        [
          n,
          s.routerCpuSecPerGiB.up.toFixed(2),
          s.routerCpuSecPerGiB.down.toFixed(2),
          s.routerCpuMsPerConn?.toFixed(3) ?? "-",
          `${(100 * (u.throughput ?? 0)).toFixed(0)}%`,
          `${(100 * (u.connections ?? 0)).toFixed(0)}%`,
        ],
        [...cpuW, 12, 12],
      ),
    );
  }

  const ratios = {};
  const a = summary.alpnmux;
  if (a) {
    lines.push("");
    for (const ref of ["haproxy", "nginx", "direct"]) {
      const b = summary[ref];
      if (!b) continue;
      const r = {
        upThroughput: a.upMiBps / b.upMiBps,
        downThroughput: a.downMiBps / b.downMiBps,
        connsPerSec: a.connsPerSec / b.connsPerSec,
        p50Latency: a.p50ms / b.p50ms,
        p99Latency: a.p99ms / b.p99ms,
      };
      if (ref !== "direct") r.peakRss = a.rssPeakMiB / b.rssPeakMiB;
      ratios[`alpnmux/${ref}`] = r;
      lines.push(
        `alpnmux/${ref}: throughput up ${r.upThroughput.toFixed(2)}x, down ${r.downThroughput.toFixed(2)}x; ` +
          `conn/s ${r.connsPerSec.toFixed(2)}x; p50 latency ${r.p50Latency.toFixed(2)}x, p99 ${r.p99Latency.toFixed(2)}x` +
          (r.peakRss !== undefined ? `; peak RSS ${r.peakRss.toFixed(2)}x` : ""),
      );
    }
  }
  lines.push("");
  lines.push(
    `other load on the machine during measurements (not this benchmark): mean ${cfg.otherLoadPct.mean.toFixed(0)}%, max ${cfg.otherLoadPct.max.toFixed(0)}% of one core` +
      (cfg.otherLoadPct.max > 20 ? "  <- noisy run, numbers are less reliable" : ""),
  );
  process.stdout.write(`${lines.join("\n")}\n`);

  const json = {
    date: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      kernel: os.release(),
      totalMemMiB: Math.round(os.totalmem() / MiB),
    },
    versions: { node: process.version, ...versions },
    otherLoadPctOfOneCore: cfg.otherLoadPct,
    params: {
      quick: cfg.quick,
      mibPerTransfer: cfg.mib,
      reps: cfg.reps,
      connections: cfg.conns,
      connReps: cfg.connReps,
      warmupConnections: cfg.warmupConns,
      concurrency: cfg.concurrency,
      acmeEvery: cfg.acmeEvery,
      helloDefault: "curl-http2.bin",
      helloAcme: "go-pebble-va.bin",
      sinkReads: cfg.sinkReads,
    },
    results: summary,
    ratios,
  };
  const argv = process.argv.slice(2);
  const out = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : undefined;
  if (!out) return;
  fs.writeFileSync(out, `${JSON.stringify(json, (_k, v) => (typeof v === "number" ? round3(v) : v), 2)}\n`);
  process.stdout.write(`\nwrote ${out}\n`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function pct(sorted, p) {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function rotate(xs, k) {
  const n = k % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}
function round1(x) {
  return Math.round(x * 10) / 10;
}
function round3(x) {
  return Number.isInteger(x) ? x : Math.round(x * 1000) / 1000;
}
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

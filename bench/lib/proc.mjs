// Child processes and /proc readings for the benchmarks: start in a process group, keep the last
// lines of output, kill every group at the end (also on errors and signals), and read CPU time
// and RSS of a whole process tree from /proc.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The set of started processes and the one cleanup that kills them: on normal exit, on errors and
 * on SIGINT/SIGTERM/SIGHUP (SIGTERM to every group first, so nginx's master reaps its workers).
 */
export function processSet(onCleanup = () => {}) {
  const children = new Set();
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) killGroup(c, "SIGKILL");
    onCleanup();
  };
  process.on("exit", cleanup);
  const set = {
    children,
    interrupted: false,
    /** Spawns `cmd` in its own process group; stdout/stderr are kept (last 40 chunks) unless `stdio` is given. */
    launch(name, cmd, args, opts = {}) {
      const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, ...opts });
      const c = { name, proc, tail: [] };
      const keep = (d) => {
        c.tail.push(d.toString());
        if (c.tail.length > 40) c.tail.shift();
      };
      proc.stdout?.on("data", keep);
      proc.stderr?.on("data", keep);
      proc.on("error", (e) => keep(`spawn error: ${e.message}\n`));
      proc.on("exit", () => setTimeout(() => children.delete(c), 0));
      children.add(c);
      return c;
    },
    /** Stops one started process group (SIGTERM, then SIGKILL after 3 s). */
    async stop(c) {
      killGroup(c, "SIGTERM");
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && running(c)) await sleep(20);
      killGroup(c, "SIGKILL");
      await reaped([c]);
    },
    async stopAll() {
      const list = [...children];
      for (const c of list) killGroup(c, "SIGTERM");
      const deadline = Date.now() + 3000;
      for (const c of list) {
        while (Date.now() < deadline && running(c)) await sleep(25);
        killGroup(c, "SIGKILL");
      }
      await reaped(list);
    },
    cleanup,
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, async () => {
      set.interrupted = true;
      process.stderr.write(`\n${sig}: stopping every started process\n`);
      await set.stopAll();
      cleanup();
      process.exit(130);
    });
  }
  return set;
}

export const running = (c) => c.proc.exitCode === null && c.proc.signalCode === null;

function killGroup(c, sig) {
  const pid = c.proc.pid;
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {}
  }
}

/** Waits (up to 1 s) until Node has seen every child exit, so none is left as a zombie. */
async function reaped(list) {
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline && list.some(running)) await sleep(20);
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects if `c` exits first. */
export async function waitListening(port, c, ms = 20000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!running(c))
      throw new Error(`${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}): ${lastOutput(c)}`);
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
  throw new Error(`${c.name} did not listen on ${port} within ${ms} ms: ${lastOutput(c)}`);
}

export const lastOutput = (c) => c.tail.join("").trim().slice(-800);

export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export function which(cmd, also = []) {
  for (const d of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", ...also]) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------
export function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

/** The fields of /proc/PID/stat after the command name (index 0 is field 3, "state"). */
function statFields(pid) {
  const stat = readProc(pid, "stat");
  return stat ? stat.slice(stat.lastIndexOf(")") + 2).split(" ") : [];
}

export function childPids(pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    if (Number(statFields(d)[1]) === pid) out.push(Number(d));
  }
  return out;
}

/** `pid` and all its live descendants. */
export function tree(pid) {
  const out = [];
  const walk = (p) => {
    if (readProc(p, "stat") === "") return;
    out.push(p);
    for (const k of childPids(p)) walk(k);
  };
  walk(pid);
  return out;
}

const HZ = 100; // USER_HZ on Linux

/** utime + stime of the processes, in seconds (10 ms ticks). */
export function cpuSec(pids) {
  let ticks = 0;
  for (const p of pids) {
    const f = statFields(p);
    ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0);
  }
  return ticks / HZ;
}

/** This process's own CPU plus that of its waited-for children (wrk, the idle-connection holder), in seconds. */
export function selfAndReapedCpuSec() {
  const f = statFields(process.pid);
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / HZ;
}

/** Sum of a /proc/PID/status field in KiB (VmRSS, VmHWM). */
export function statusKiB(pids, key) {
  let kib = 0;
  for (const p of pids) {
    const m = readProc(p, "status").match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    if (m) kib += Number(m[1]);
  }
  return kib;
}

export function threadCount(pids) {
  let n = 0;
  for (const p of pids) n += Number(readProc(p, "status").match(/^Threads:\s+(\d+)/m)?.[1] ?? 0);
  return n;
}

/** Busy CPU time of the whole machine (user + nice + system, all cores), in seconds. */
export function machineBusySec() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  return (Number(f[1]) + Number(f[2]) + Number(f[3])) / HZ;
}

/**
 * A self-signed ECDSA P-256 certificate made with openssl: writes DIR/cert.pem and DIR/key.pem and
 * returns their paths.
 */
export function selfSignedCert(dir, { openssl = "openssl", cn, san, days }) {
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  execFileSync(
    openssl,
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      String(days),
      "-subj",
      `/CN=${cn}`,
      "-addext",
      `subjectAltName=${san}`,
    ],
    { stdio: "ignore" },
  );
  return { cert, key };
}

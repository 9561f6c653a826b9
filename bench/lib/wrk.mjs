// Runs wrk (Debian's, linked against OpenSSL: TLS 1.3 to the nginx backend) and reads its summary
// from a Lua `done` hook instead of parsing the human-readable output.
import fs from "node:fs";
import path from "node:path";
import { lastOutput, running } from "./proc.mjs";

const DONE_LUA = `-- Prints wrk's summary as one JSON line (latency in microseconds).
done = function(s, lat, req)
  local e = s.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\\n',
    s.duration, s.requests, s.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    lat:percentile(50), lat:percentile(90), lat:percentile(99), lat.mean, lat.max))
end
`;

/** The three workloads: what wrk is asked, and which unit the rate and the CPU are counted in. */
export const WORKLOADS = {
  conn: {
    title: "(a) a new TLS connection per request",
    unit: "conn/s",
    cpuUnit: "CPU s / 1000 conns",
    headers: ["Connection: close"],
  },
  keepalive: {
    title: "(b) small requests on kept-alive connections",
    unit: "req/s",
    cpuUnit: "CPU s / 1000 reqs",
    headers: [],
  },
  bulk: {
    title: "(c) 10 MiB downloads",
    unit: "MiB/s",
    cpuUnit: "CPU s / GiB",
    headers: [],
  },
};

export function wrkScript(dir) {
  const file = path.join(dir, "done.lua");
  fs.writeFileSync(file, DONE_LUA);
  return file;
}

/** The wrk arguments for one run. */
export function wrkArgs({ script, port, urlPath, connections, threads, seconds, headers }) {
  const args = ["-t", String(Math.min(threads, connections)), "-c", String(connections)];
  args.push("-d", `${Math.max(1, Math.round(seconds))}s`, "--latency", "--timeout", "10s", "-s", script);
  for (const h of headers) args.push("-H", h);
  args.push(`https://localhost:${port}${urlPath}`);
  return args;
}

/** Runs wrk to the end; resolves to its summary ({ seconds, requests, bytes, errors, p50ms, ... }). */
export function runWrk(procs, bin, args) {
  return new Promise((resolve, reject) => {
    const c = procs.launch("wrk", bin, args);
    c.proc.on("exit", (code, sig) => {
      const out = c.tail.join("");
      const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
      if (!line) return reject(new Error(`wrk ${args.join(" ")} failed (${code ?? sig}): ${lastOutput(c)}`));
      const j = JSON.parse(line.slice(8));
      const errors = {
        connect: j.connect,
        read: j.read,
        write: j.write,
        status: j.status,
        timeout: j.timeout,
      };
      resolve({
        seconds: j.duration_us / 1e6,
        requests: j.requests,
        bytes: j.bytes,
        errors,
        errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
        p50ms: j.p50_us / 1000,
        p90ms: j.p90_us / 1000,
        p99ms: j.p99_us / 1000,
        meanms: j.mean_us / 1000,
        maxms: j.max_us / 1000,
      });
    });
    if (!running(c) && c.proc.exitCode !== null) reject(new Error("wrk exited at once"));
  });
}

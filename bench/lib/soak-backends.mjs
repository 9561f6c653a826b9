// The soak's backends: Node TLS servers speaking a tiny line protocol, one plain (the default
// route) and one that first reads and checks a PROXY v2 header (the proxy route).
//   "PING id\n"      -> "PONG id backend=NAME src=IP:PORT\n" (src: from the PROXY header, or "none")
//   "STREAM bytes\n" -> that many bytes, then the server ends its side
// A bad PROXY header is counted in `stats.badProxy` and the connection is dropped, so the client
// sees a failure too.
import net from "node:net";
import tls from "node:tls";

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

/**
 * Reads a PROXY v2 header (RFC-style spec, haproxy.org proxy-protocol.txt section 2.2) from the
 * start of `buf`: { need } if incomplete, { error } if wrong, else { src, dst, length }.
 */
export function parseProxyV2(buf) {
  if (buf.length < 16)
    return buf.subarray(0, Math.min(buf.length, 12)).equals(SIG.subarray(0, Math.min(buf.length, 12)))
      ? { need: true }
      : { error: "no PROXY v2 signature" };
  if (!buf.subarray(0, 12).equals(SIG)) return { error: "no PROXY v2 signature" };
  if (buf[12] !== 0x21) return { error: `version/command 0x${buf[12].toString(16)} (want 0x21: v2 PROXY)` };
  const len = buf.readUInt16BE(14);
  if (buf.length < 16 + len) return { need: true };
  if (buf[13] === 0x11) {
    if (len < 12) return { error: `IPv4 address block of ${len} bytes` };
    const ip = (o) => [...buf.subarray(o, o + 4)].join(".");
    return {
      src: `${ip(16)}:${buf.readUInt16BE(24)}`,
      dst: `${ip(20)}:${buf.readUInt16BE(26)}`,
      length: 16 + len,
    };
  }
  return { error: `family 0x${buf[13].toString(16)} (want 0x11: TCP over IPv4)` };
}

function serveTls(name, socket, secureContext, src, stats, preface) {
  // Bytes read past the PROXY header go back first: TLSSocket feeds a socket's buffered data to TLS.
  if (preface?.length) socket.unshift(preface);
  const t = new tls.TLSSocket(socket, { isServer: true, secureContext });
  t.on("error", () => stats.tlsErrors++);
  let buf = "";
  t.on("data", (d) => {
    buf += d.toString("latin1");
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const [cmd, arg] = buf.slice(0, i).split(" ");
      buf = buf.slice(i + 1);
      if (cmd === "PING") {
        stats.pings++;
        t.write(`PONG ${arg} backend=${name} src=${src ?? "none"}\n`);
      } else if (cmd === "STREAM") {
        stats.streams++;
        let left = Number(arg);
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, CHUNK.length);
            left -= n;
            if (!t.write(CHUNK.subarray(0, n))) return void t.once("drain", pump);
          }
          t.end();
        };
        pump();
      } else t.destroy();
    }
  });
  t.on("end", () => t.end());
}

/** Starts one backend on 127.0.0.1; `proxy: true` requires a PROXY v2 header on every connection. */
export async function startBackend({ name, cert, key, proxy }) {
  const secureContext = tls.createSecureContext({ cert, key, minVersion: "TLSv1.2" });
  const stats = {
    name,
    connections: 0,
    pings: 0,
    streams: 0,
    badProxy: 0,
    badProxyReasons: [],
    tlsErrors: 0,
  };
  const sockets = new Set();
  const server = net.createServer((s) => {
    stats.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    if (!proxy) return serveTls(name, s, secureContext, null, stats);
    let head = Buffer.alloc(0);
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      const h = parseProxyV2(head);
      if (h.need) return;
      s.off("data", onData);
      if (h.error) {
        stats.badProxy++;
        if (stats.badProxyReasons.length < 5) stats.badProxyReasons.push(h.error);
        return void s.destroy();
      }
      s.pause();
      serveTls(name, s, secureContext, h.src, stats, head.subarray(h.length));
    };
    s.on("data", onData);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    name,
    port: server.address().port,
    stats,
    open: () => sockets.size,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * @module backends — servers the router forwards to, each able to say who answered and what
 * bytes arrived: an HTTPS server, a raw TLS identity server, a TCP capture server, a sha256
 * echo server (half-close aware), and nginx accepting PROXY v1/v2 in front of HTTPS.
 *
 * @example
 * const be = await startHttpsBackend(ws, { name: 'web', cert: leaf })
 * // GET https://backend.example.test:<be.port>/ → 200 "backend:web"
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import type { LeafCert } from "./certs.ts";
import { freePort, waitForPort } from "./ports.ts";
import { type Proc, spawnProc, type Workspace } from "./proc.ts";

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Closes a server and destroys its open sockets; registered as a workspace cleanup. */
function closer(ws: Workspace, server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  ws.defer(close);
  return close;
}

function track(server: net.Server, event: "connection" | "secureConnection" = "connection"): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on(event, (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  return sockets;
}

// ---- (a) HTTPS ---------------------------------------------------------------------------------

export interface HttpsRequestRecord {
  method: string;
  url: string;
  servername: string | false;
  alpn: string | false;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
}

export interface HttpsBackend {
  readonly name: string;
  readonly port: number;
  /** `backend:<name>`: the body of every response (except `/info`). */
  readonly body: string;
  readonly requests: HttpsRequestRecord[];
  close(): Promise<void>;
}

/**
 * An HTTPS (HTTP/1.1) server on 127.0.0.1. Every request gets `200 backend:<name>` with header
 * `x-backend: <name>`; `GET /info` returns the request record as JSON.
 */
export async function startHttpsBackend(
  ws: Workspace,
  opts: { name: string; cert: LeafCert; port?: number },
): Promise<HttpsBackend> {
  const requests: HttpsRequestRecord[] = [];
  const body = `backend:${opts.name}`;
  const server = https.createServer(
    { cert: opts.cert.cert, key: opts.cert.key, ALPNProtocols: ["http/1.1"] },
    (req, res) => {
      const sock = req.socket as tls.TLSSocket;
      const rec: HttpsRequestRecord = {
        method: req.method ?? "",
        url: req.url ?? "",
        servername: sock.servername ?? false,
        alpn: sock.alpnProtocol ?? false,
        remoteAddress: sock.remoteAddress,
        remotePort: sock.remotePort,
      };
      requests.push(rec);
      req.resume();
      req.on("end", () => {
        res.setHeader("x-backend", opts.name);
        res.setHeader("content-type", "text/plain");
        res.setHeader("connection", "close");
        res.end(req.url === "/info" ? JSON.stringify(rec) : body);
      });
    },
  );
  const sockets = track(server, "secureConnection");
  const port = await listen(server, opts.port);
  return { name: opts.name, port, body, requests, close: closer(ws, server, sockets) };
}

// ---- (b) raw TLS identity ---------------------------------------------------------------------

export interface TlsIdentityRecord {
  servername: string | false;
  alpn: string | false;
  protocol: string | null;
}

export interface TlsIdentityServer {
  readonly name: string;
  readonly port: number;
  readonly connections: TlsIdentityRecord[];
  close(): Promise<void>;
}

/**
 * A TLS server that writes `who=<name>\n` right after the handshake, then echoes what it
 * receives until the client ends. `alpn` sets the protocols it selects from (default: none, so
 * it ignores the client's ALPN and negotiates no protocol).
 */
export async function startTlsIdentityServer(
  ws: Workspace,
  opts: { name: string; cert: LeafCert; alpn?: string[]; port?: number },
): Promise<TlsIdentityServer> {
  const connections: TlsIdentityRecord[] = [];
  const server = tls.createServer({
    cert: opts.cert.cert,
    key: opts.cert.key,
    ...(opts.alpn !== undefined ? { ALPNProtocols: opts.alpn } : {}),
  });
  server.on("secureConnection", (s: tls.TLSSocket) => {
    connections.push({
      servername: s.servername ?? false,
      alpn: s.alpnProtocol ?? false,
      protocol: s.getProtocol(),
    });
    s.on("error", () => {});
    s.write(`who=${opts.name}\n`);
    s.pipe(s);
  });
  server.on("tlsClientError", () => {});
  const sockets = track(server, "secureConnection");
  const port = await listen(server, opts.port);
  return { name: opts.name, port, connections, close: closer(ws, server, sockets) };
}

// ---- (c) TCP capture --------------------------------------------------------------------------

export interface CapturedConnection {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Everything received so far (replaced on every chunk). */
  data: Buffer;
  /** Sizes of the chunks as they were read. */
  readonly chunkSizes: number[];
  /** Resolves with all bytes when the peer sends FIN or the socket closes. */
  readonly ended: Promise<Buffer>;
  readonly socket: net.Socket;
}

export interface CaptureBackend {
  readonly port: number;
  readonly connections: CapturedConnection[];
  /** Resolves with connection #i (0-based) once it exists. */
  connection(i: number, timeoutMs?: number): Promise<CapturedConnection>;
  /** Resolves once connection #i has received at least `n` bytes. */
  waitForBytes(i: number, n: number, timeoutMs?: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface CaptureOptions {
  /** Written to each new connection right away. */
  greeting?: string | Buffer;
  /** Called per connection (e.g. to reply or close); the recording happens regardless. */
  onConnection?: (conn: CapturedConnection) => void;
  /** End our side when the peer ends (default true). */
  endOnEnd?: boolean;
}

/** A plain TCP server that records exactly the bytes each connection delivers. */
export async function startCaptureBackend(ws: Workspace, opts: CaptureOptions = {}): Promise<CaptureBackend> {
  const connections: CapturedConnection[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    let resolveEnded: (b: Buffer) => void = () => {};
    const conn: CapturedConnection = {
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      data: Buffer.alloc(0),
      chunkSizes: [],
      ended: new Promise<Buffer>((r) => {
        resolveEnded = r;
      }),
      socket,
    };
    connections.push(conn);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      conn.chunkSizes.push(c.length);
      conn.data = Buffer.concat(chunks);
      notify();
    });
    socket.on("end", () => {
      resolveEnded(conn.data);
      if (opts.endOnEnd ?? true) socket.end();
    });
    socket.on("close", () => resolveEnded(conn.data));
    socket.on("error", () => {});
    if (opts.greeting !== undefined) socket.write(opts.greeting);
    opts.onConnection?.(conn);
    notify();
  });
  const sockets = track(server);
  const port = await listen(server);
  const waitUntil = <T>(get: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const v = get();
        if (v === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`capture backend: timed out waiting for ${what}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    port,
    connections,
    connection: (i, timeoutMs = 5000) => waitUntil(() => connections[i], `connection #${i}`, timeoutMs),
    waitForBytes: (i, n, timeoutMs = 5000) =>
      waitUntil(
        () => {
          const c = connections[i];
          return c !== undefined && c.data.length >= n ? c.data : undefined;
        },
        `${n} bytes on connection #${i}`,
        timeoutMs,
      ),
    close: closer(ws, server, sockets),
  };
}

// ---- (d) sha256 echo --------------------------------------------------------------------------

export interface HashBackend {
  readonly port: number;
  /** One entry per finished connection: hex digest and byte count of what it received. */
  readonly results: { sha256: string; bytes: number }[];
  close(): Promise<void>;
}

/**
 * Reads each connection to EOF (half-open), then writes `<sha256 hex> <byte count>\n` and closes.
 * The reply is only possible if the path keeps the client→server FIN and server→client data apart.
 */
export async function startHashBackend(ws: Workspace): Promise<HashBackend> {
  const results: { sha256: string; bytes: number }[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const h = createHash("sha256");
    let bytes = 0;
    socket.on("data", (c: Buffer) => {
      h.update(c);
      bytes += c.length;
    });
    socket.on("end", () => {
      const r = { sha256: h.digest("hex"), bytes };
      results.push(r);
      socket.end(`${r.sha256} ${r.bytes}\n`);
    });
    socket.on("error", () => {});
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, results, close: closer(ws, server, sockets) };
}

// ---- (e) nginx with PROXY protocol ------------------------------------------------------------

export interface NginxBackend {
  readonly port: number;
  readonly proc: Proc;
  readonly prefix: string;
  /** Lines of `access.log`: `$proxy_protocol_addr:$proxy_protocol_port $remote_addr $ssl_server_name`. */
  accessLog(): string[];
  stop(): Promise<void>;
}

/**
 * nginx (foreground) serving HTTPS on 127.0.0.1 with `listen … ssl proxy_protocol` (v1 and v2
 * both accepted). Every response body is `$proxy_protocol_addr:$proxy_protocol_port`, i.e. the
 * client address the PROXY header carried. `proxyProtocol: false` drops `proxy_protocol`.
 */
export async function startNginxProxyBackend(
  ws: Workspace,
  opts: { cert: LeafCert; name?: string; proxyProtocol?: boolean },
): Promise<NginxBackend> {
  const name = opts.name ?? "nginx";
  const prefix = ws.subdir(name);
  for (const d of ["logs", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"]) {
    fs.mkdirSync(path.join(prefix, d), { recursive: true });
  }
  const port = await freePort();
  const pp = opts.proxyProtocol ?? true;
  const isRoot = process.getuid?.() === 0;
  const conf = `
${isRoot ? "user root;" : ""}
worker_processes 1;
error_log stderr info;
pid ${prefix}/nginx.pid;
events { worker_connections 256; }
http {
  log_format pp '$proxy_protocol_addr:$proxy_protocol_port $remote_addr $ssl_server_name';
  access_log ${prefix}/logs/access.log pp;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:${port} ssl${pp ? " proxy_protocol" : ""};
    ssl_certificate ${opts.cert.certPath};
    ssl_certificate_key ${opts.cert.keyPath};
    location / { return 200 "$proxy_protocol_addr:$proxy_protocol_port"; }
  }
}
`;
  const confPath = path.join(prefix, "nginx.conf");
  fs.writeFileSync(confPath, conf);
  const bin = fs.existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
  const proc = spawnProc(ws, name, [
    bin,
    "-p",
    prefix,
    "-c",
    confPath,
    "-e",
    "stderr",
    "-g",
    "daemon off; master_process off;",
  ]);
  await waitForPort(port, {
    abort: () => (proc.exitStatus() ? `nginx exited, see ${proc.logPath}` : undefined),
  });
  const accessPath = path.join(prefix, "logs", "access.log");
  return {
    port,
    proc,
    prefix,
    accessLog: () =>
      fs.existsSync(accessPath)
        ? fs
            .readFileSync(accessPath, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : [],
    stop: async () => {
      await proc.stop();
    },
  };
}

// ---- PROXY protocol helpers for assertions ----------------------------------------------------

/** The 12-byte PROXY v2 signature. */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

export interface ParsedProxyHeader {
  version: 1 | 2;
  /** Total header length in bytes (the payload starts here). */
  length: number;
  command: "PROXY" | "LOCAL";
  family: "TCP4" | "TCP6" | "UNKNOWN";
  srcAddr?: string;
  dstAddr?: string;
  srcPort?: number;
  dstPort?: number;
  /** v2 TLVs by type. */
  tlvs: { type: number; value: Buffer }[];
}

function ipv6(b: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  // Not compressed on purpose: compare with the same formatting, or normalise via net.SocketAddress.
  return parts.join(":");
}

/**
 * Parses a PROXY v1 or v2 header at the start of `buf` (an independent test oracle, not the
 * router's code). Returns `undefined` if `buf` doesn't start with one; throws if it is malformed.
 */
export function parseProxyHeader(buf: Buffer): ParsedProxyHeader | undefined {
  if (buf.subarray(0, 6).toString("latin1") === "PROXY ") {
    const eol = buf.indexOf("\r\n");
    if (eol < 0 || eol > 105) throw new Error("Cannot parse PROXY v1: no CRLF within 107 bytes");
    const f = buf.subarray(0, eol).toString("latin1").split(" ");
    const fam = f[1];
    if (fam === "UNKNOWN")
      return { version: 1, length: eol + 2, command: "PROXY", family: "UNKNOWN", tlvs: [] };
    if ((fam !== "TCP4" && fam !== "TCP6") || f.length !== 6)
      throw new Error(`Cannot parse PROXY v1: ${f.join(" ")}`);
    return {
      version: 1,
      length: eol + 2,
      command: "PROXY",
      family: fam,
      srcAddr: f[2] ?? "",
      dstAddr: f[3] ?? "",
      srcPort: Number(f[4]),
      dstPort: Number(f[5]),
      tlvs: [],
    };
  }
  if (buf.length < 16 || !buf.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) return undefined;
  const verCmd = buf[12] ?? 0;
  const famByte = buf[13] ?? 0;
  const len = buf.readUInt16BE(14);
  if (verCmd >> 4 !== 2) throw new Error(`Cannot parse PROXY v2: version ${verCmd >> 4}`);
  if (buf.length < 16 + len) throw new Error("Cannot parse PROXY v2: truncated");
  const body = buf.subarray(16, 16 + len);
  const command = (verCmd & 0xf) === 1 ? "PROXY" : "LOCAL";
  const out: ParsedProxyHeader = { version: 2, length: 16 + len, command, family: "UNKNOWN", tlvs: [] };
  let off = 0;
  if (famByte === 0x11) {
    out.family = "TCP4";
    out.srcAddr = [...body.subarray(0, 4)].join(".");
    out.dstAddr = [...body.subarray(4, 8)].join(".");
    out.srcPort = body.readUInt16BE(8);
    out.dstPort = body.readUInt16BE(10);
    off = 12;
  } else if (famByte === 0x21) {
    out.family = "TCP6";
    out.srcAddr = ipv6(body.subarray(0, 16));
    out.dstAddr = ipv6(body.subarray(16, 32));
    out.srcPort = body.readUInt16BE(32);
    out.dstPort = body.readUInt16BE(34);
    off = 36;
  }
  while (off < body.length && out.family !== "UNKNOWN") {
    if (off + 3 > body.length) throw new Error("Cannot parse PROXY v2: truncated TLV");
    const type = body[off] ?? 0;
    const l = body.readUInt16BE(off + 1);
    if (off + 3 + l > body.length) throw new Error(`Cannot parse PROXY v2: TLV ${type} overruns`);
    out.tlvs.push({ type, value: Buffer.from(body.subarray(off + 3, off + 3 + l)) });
    off += 3 + l;
  }
  return out;
}

/** Builds a PROXY v2 PROXY/TCP4 header by hand (no TLVs). */
export function buildProxyV2Tcp4(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  const addr = Buffer.alloc(12);
  for (const [i, o] of src.split(".").entries()) addr.writeUInt8(Number(o), i);
  for (const [i, o] of dst.split(".").entries()) addr.writeUInt8(Number(o), 4 + i);
  addr.writeUInt16BE(srcPort, 8);
  addr.writeUInt16BE(dstPort, 10);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(addr.length);
  return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11]), len, addr]);
}

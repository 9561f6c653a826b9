/**
 * @module clients — probes used by the e2e tests: openssl s_client, curl, node:tls, node:https,
 * and a raw TCP client that writes chosen bytes in chosen chunks.
 *
 * @example
 * const r = await opensslClient({ port, servername: 'a.example.test', alpn: ['acme-tls/1'] })
 * assert.equal(r.alpn, 'acme-tls/1')
 */
import { spawn } from "node:child_process";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- node:https -------------------------------------------------------------------------------

export interface HttpsResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  alpn: string | false | null;
  /** Subject CN of the server's leaf certificate. */
  peerCN: string | undefined;
}

export interface HttpsOptions {
  /** CA PEM text to trust (default: the system roots). */
  ca?: string | undefined;
  /** TLS SNI, and the name checked against the certificate (default: the URL host). */
  servername?: string;
  /** Connect here instead of the URL host (the URL host still goes into Host:). */
  connectHost?: string;
  connectPort?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  rejectUnauthorized?: boolean;
  /** ALPN list to offer (default: none, as node:https does). */
  alpn?: string[];
}

/** One HTTPS request with a fresh connection (no keep-alive agent). Rejects on any error. */
export function httpsRequest(url: string, opts: HttpsOptions = {}): Promise<HttpsResult> {
  const u = new URL(url);
  const servername = opts.servername ?? u.hostname;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method: opts.method ?? "GET",
        host: opts.connectHost ?? u.hostname,
        port: opts.connectPort ?? (u.port === "" ? 443 : Number(u.port)),
        path: u.pathname + u.search,
        headers: { host: u.host, ...opts.headers },
        agent: false,
        servername: net.isIP(servername) !== 0 ? "" : servername,
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity(servername, cert),
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        ...(opts.alpn !== undefined ? { ALPNProtocols: opts.alpn } : {}),
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const sock = res.socket as tls.TLSSocket;
        const alpn = sock.alpnProtocol ?? null;
        const peer = sock.getPeerCertificate();
        const cn = peer?.subject?.CN;
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
            alpn,
            peerCN: Array.isArray(cn) ? cn[0] : cn,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`HTTPS ${url} timed out`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

// ---- node:tls ---------------------------------------------------------------------------------

export interface TlsProbeResult {
  alpn: string | false;
  authorized: boolean;
  authorizationError: string | undefined;
  cert: tls.DetailedPeerCertificate;
  /** Subject alternative names, e.g. `DNS:a.example.test`. */
  subjectaltname: string | undefined;
  protocol: string | null;
  /** Bytes the server sent after the handshake, until it closed or `readMs` elapsed. */
  data: Buffer;
}

export interface TlsProbeOptions {
  port: number;
  host?: string;
  /** SNI; omit for none. */
  servername?: string;
  alpn?: string[];
  ca?: string;
  /** Bytes to write after the handshake. */
  write?: string | Buffer;
  /** How long to read after the handshake (default 300 ms); it stops early on close. */
  readMs?: number;
  timeoutMs?: number;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
}

/** Handshakes with node:tls (no verification failure is fatal; see `authorized`) and reads a bit. */
export function tlsProbe(opts: TlsProbeOptions): Promise<TlsProbeResult> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: opts.host ?? "127.0.0.1",
      port: opts.port,
      ...(opts.servername !== undefined ? { servername: opts.servername } : { servername: "" }),
      ...(opts.alpn !== undefined ? { ALPNProtocols: opts.alpn } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.minVersion !== undefined ? { minVersion: opts.minVersion } : {}),
      ...(opts.maxVersion !== undefined ? { maxVersion: opts.maxVersion } : {}),
      rejectUnauthorized: false,
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(new Error("TLS probe timed out")), opts.timeoutMs ?? 5000);
    let finish = () => {};
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.once("secureConnect", () => {
      const result = () => ({
        alpn: sock.alpnProtocol ?? false,
        authorized: sock.authorized,
        authorizationError:
          sock.authorizationError === undefined ? undefined : String(sock.authorizationError),
        cert: sock.getPeerCertificate(true),
        subjectaltname: sock.getPeerCertificate().subjectaltname,
        protocol: sock.getProtocol(),
      });
      const r = result();
      let done = false;
      finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(readTimer);
        sock.destroy();
        resolve({ ...r, data: Buffer.concat(chunks) });
      };
      if (opts.write !== undefined) sock.write(opts.write);
      const readTimer = setTimeout(finish, opts.readMs ?? 300);
    });
    sock.once("close", () => finish());
    sock.once("end", () => finish());
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

// ---- openssl s_client -------------------------------------------------------------------------

export interface OpensslResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Negotiated ALPN, or `undefined` if none (`No ALPN negotiated`). */
  alpn: string | undefined;
  /** `subject=` line of the peer certificate. */
  subject: string | undefined;
  /** True if a handshake completed (a cipher was agreed). */
  handshake: boolean;
  /** Text after the handshake summary that the server sent (e.g. `who=NAME`). */
  who: string | undefined;
  timedOut: boolean;
}

export interface OpensslOptions {
  port: number;
  host?: string;
  servername?: string;
  /** Omit `-servername` entirely (`-noservername`). */
  noServername?: boolean;
  alpn?: string[];
  /** Written to stdin; then stdin closes when `until` matches stdout or `holdMs` passes. */
  input?: string;
  /** Close stdin as soon as stdout matches this (default `/^who=/m`). */
  until?: RegExp;
  /** Close stdin after this long at the latest (default 1000 ms). */
  holdMs?: number;
  timeoutMs?: number;
  extraArgs?: string[];
  caFile?: string;
}

/** Runs `openssl s_client` against 127.0.0.1:port, feeding stdin, and parses the summary. */
export function opensslClient(opts: OpensslOptions): Promise<OpensslResult> {
  const args = ["s_client", "-connect", `${opts.host ?? "127.0.0.1"}:${opts.port}`];
  if (opts.noServername) args.push("-noservername");
  else if (opts.servername !== undefined) args.push("-servername", opts.servername);
  if (opts.alpn !== undefined) args.push("-alpn", opts.alpn.join(","));
  if (opts.caFile !== undefined) args.push("-CAfile", opts.caFile);
  args.push(...(opts.extraArgs ?? []));
  const until = opts.until ?? /^who=/m;
  return new Promise((resolve) => {
    const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdin.on("error", () => {});
    if (opts.input !== undefined) child.stdin.write(opts.input);
    const closeStdin = () => {
      if (!child.stdin.writableEnded) child.stdin.end();
    };
    const hold = setTimeout(closeStdin, opts.holdMs ?? 1000);
    const kill = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 10_000);
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
      if (until.test(stdout)) closeStdin();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    child.on("close", (code) => {
      clearTimeout(hold);
      clearTimeout(kill);
      const alpn = /^ALPN protocol: (.+)$/m.exec(stdout)?.[1];
      resolve({
        code,
        stdout,
        stderr,
        alpn,
        subject: /^subject=(.*)$/m.exec(stdout)?.[1]?.trim(),
        handshake: /^(New|Reused), TLS/m.test(stdout) && !/Cipher is \(NONE\)/.test(stdout),
        who: /^who=(.*)$/m.exec(stdout)?.[1],
        timedOut,
      });
    });
  });
}

// ---- curl -------------------------------------------------------------------------------------

export interface CurlResult {
  code: number | null;
  body: string;
  stderr: string;
  /** `%{http_code}`; 0 if no HTTP response. */
  httpCode: number;
}

export interface CurlOptions {
  /** `https://name:port/path` */
  url: string;
  /** `--resolve` entries; default maps the URL's host:port to 127.0.0.1. */
  resolve?: string[];
  cacert?: string;
  timeoutS?: number;
  extraArgs?: string[];
}

/** Runs curl (`-sS --http1.1`), returning the body and the HTTP status. */
export function curl(opts: CurlOptions): Promise<CurlResult> {
  const u = new URL(opts.url);
  const port = u.port === "" ? "443" : u.port;
  const resolve = opts.resolve ?? [`${u.hostname}:${port}:127.0.0.1`];
  const marker = "\n__HTTP_CODE__:";
  const args = ["-sS", "--http1.1", "--max-time", String(opts.timeoutS ?? 5), "-w", `${marker}%{http_code}`];
  for (const r of resolve) args.push("--resolve", r);
  if (opts.cacert !== undefined) args.push("--cacert", opts.cacert);
  args.push(...(opts.extraArgs ?? []), opts.url);
  return new Promise((done) => {
    const child = spawn("curl", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    child.on("close", (code) => {
      const i = out.lastIndexOf(marker);
      const body = i >= 0 ? out.slice(0, i) : out;
      const httpCode = i >= 0 ? Number(out.slice(i + marker.length)) : 0;
      done({ code, body, stderr, httpCode });
    });
  });
}

// ---- raw TCP ----------------------------------------------------------------------------------

export interface RawResult {
  received: Buffer;
  /** How the exchange ended. */
  end: "remote-end" | "remote-close" | "timeout" | "error";
  error: Error | undefined;
  /** ms from connect to the end. */
  elapsedMs: number;
}

export interface RawOptions {
  port: number;
  host?: string;
  /** Written in order, with `delayMs` between them (a number or one per gap). */
  chunks: (Buffer | Uint8Array | string)[];
  delayMs?: number | number[];
  /** Half-close (send FIN) after the last chunk (default false). */
  endAfterWrite?: boolean;
  /** Stop reading after this long (default 2000 ms). */
  timeoutMs?: number;
  /** Resolve as soon as this many bytes arrived. */
  expectBytes?: number;
}

/** Writes bytes in chunks (setNoDelay) and collects everything received. */
export function rawExchange(opts: RawOptions): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect({ host: opts.host ?? "127.0.0.1", port: opts.port, allowHalfOpen: true });
    sock.setNoDelay(true);
    const got: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (end: RawResult["end"], error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ received: Buffer.concat(got), end, error, elapsedMs: Date.now() - started });
    };
    const timer = setTimeout(() => finish("timeout"), opts.timeoutMs ?? 2000);
    sock.on("data", (c: Buffer) => {
      got.push(c);
      size += c.length;
      if (opts.expectBytes !== undefined && size >= opts.expectBytes) finish("remote-end");
    });
    sock.on("end", () => finish("remote-end"));
    sock.on("close", () => finish("remote-close"));
    sock.on("error", (e) => finish("error", e));
    sock.once("connect", async () => {
      for (const [i, c] of opts.chunks.entries()) {
        if (settled) return;
        if (i > 0) {
          const d = Array.isArray(opts.delayMs) ? (opts.delayMs[i - 1] ?? 0) : (opts.delayMs ?? 0);
          if (d > 0) await sleep(d);
        }
        sock.write(typeof c === "string" ? Buffer.from(c) : c);
      }
      if (opts.endAfterWrite && !settled) sock.end();
    });
  });
}

/** Splits `buf` at the given offsets: `splitAt(b, [1, 5])` → `[b[0,1), b[1,5), b[5,..)]`. */
export function splitAt(buf: Uint8Array, offsets: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const o of offsets) {
    out.push(Buffer.from(buf.subarray(prev, o)));
    prev = o;
  }
  out.push(Buffer.from(buf.subarray(prev)));
  return out;
}

/**
 * Captures the ClientHello node:tls sends for these options (the first bytes it writes), by
 * pointing it at a throwaway server that records and closes. Useful to replay real hellos in
 * chunks through {@link rawExchange}.
 */
export async function captureNodeHello(opts: { servername?: string; alpn?: string[] } = {}): Promise<Buffer> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const captured = new Promise<Buffer>((resolve) => {
    srv.once("connection", (s) => {
      const got: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      s.on("data", (c: Buffer) => {
        got.push(c);
        clearTimeout(timer);
        timer = setTimeout(() => {
          s.destroy();
          resolve(Buffer.concat(got));
        }, 100);
      });
    });
  });
  const c = tls.connect({
    port,
    host: "127.0.0.1",
    servername: opts.servername ?? "",
    ...(opts.alpn !== undefined ? { ALPNProtocols: opts.alpn } : {}),
    rejectUnauthorized: false,
  });
  c.on("error", () => {});
  const hello = await captured;
  c.destroy();
  srv.close();
  return hello;
}

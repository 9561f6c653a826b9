// The soak's clients. Each resolves (never rejects) to { kind, ok, expected?, reason, bytes? }:
// ok = a normal connection that did its whole exchange, expected = a refusal the router should
// give (a silent client closed at the hello timeout, a bad first flight closed), else a failure.
import crypto from "node:crypto";
import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";

const rand = (a, b) => a + Math.floor(Math.random() * (b - a + 1));
const result = (kind, ok, reason, extra = {}) => ({ kind, ok, reason, ...extra });

/**
 * A TLS connection to the router that pings the backend `pings` times (one every `everyMs`),
 * checks each PONG (backend name, and with PROXY v2 the client's own address), and optionally
 * ends with a STREAM of `stream` bytes it counts. `slowMs`: the first flight goes out in small
 * pieces over about that long.
 */
export function normalClient({
  port,
  host,
  route,
  localAddress,
  pings = 1,
  everyMs = 1000,
  stream = 0,
  slowMs = 0,
  kind,
}) {
  return new Promise((resolve) => {
    const raw = net.connect({ host: "127.0.0.1", port, localAddress });
    const socket = slowMs ? throttled(raw, slowMs) : raw;
    const t = tls.connect({
      socket,
      servername: host,
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    let settled = false;
    let timer;
    const t0 = performance.now();
    let phase = "handshake";
    const done = (ok, reason, extra) => {
      if (settled) return;
      if (!ok) {
        const hello =
          socket.helloSentMs === undefined ? "" : `, hello sent in ${Math.round(socket.helloSentMs)} ms`;
        reason = `${reason} (in ${phase}, after ${Math.round(performance.now() - t0)} ms${slowMs && socket.helloSentMs === undefined ? ", hello not all sent" : hello})`;
      }
      settled = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      t.destroy();
      raw.destroy();
      resolve(result(kind, ok, reason, extra));
    };
    const deadline = setTimeout(
      () => done(false, `${kind}: no answer in time`),
      slowMs + pings * everyMs + 20_000,
    );
    let buf = "";
    let sent = 0;
    let streamed = -1;
    const next = () => {
      phase = sent < pings ? `ping ${sent + 1}` : stream ? "stream" : "done";
      if (sent < pings) t.write(`PING ${++sent}\n`);
      else if (stream) {
        streamed = 0;
        t.write(`STREAM ${stream}\n`);
      } else done(true, "ok");
    };
    t.on("secureConnect", next);
    t.on("data", (d) => {
      if (streamed >= 0) {
        streamed += d.length;
        return;
      }
      buf += d.toString("latin1");
      const i = buf.indexOf("\n");
      if (i < 0) return;
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const want = `PONG ${sent} backend=${route.backend} src=${route.proxy ? `${raw.localAddress}:${raw.localPort}` : "none"}`;
      if (line !== want)
        return done(
          false,
          `${kind}: wrong answer ${JSON.stringify(line.slice(0, 80))} (want ${JSON.stringify(want)})`,
        );
      if (sent < pings) timer = setTimeout(next, everyMs);
      else next();
    });
    t.on("end", () => {
      if (streamed >= 0)
        return streamed === stream
          ? done(true, "ok", { bytes: streamed })
          : done(false, `${kind}: stream of ${stream} bytes ended at ${streamed}`);
      done(false, `${kind}: closed early`);
    });
    t.on("error", (e) => done(false, `${kind}: ${e.code ?? e.message}`));
    t.on("close", () => done(false, `${kind}: closed early`));
  });
}

/** A Duplex over `raw` that sends its first `firstBytes` in pieces of 5-40 bytes spread over ~`ms`. */
function throttled(raw, ms) {
  let first = true;
  const d = new Duplex({
    write(chunk, _enc, cb) {
      if (!first) return raw.write(chunk, cb);
      first = false;
      const pieces = [];
      for (let o = 0; o < chunk.length; ) {
        const n = rand(5, 40);
        pieces.push(chunk.subarray(o, o + n));
        o += n;
      }
      // Each piece has its own due time from the start, so a late timer does not stretch the hello.
      const t0 = performance.now();
      const gap = ms / pieces.length;
      let i = 0;
      const step = () => {
        while (i < pieces.length && performance.now() - t0 >= i * gap) raw.write(pieces[i++]);
        if (i === pieces.length) {
          d.helloSentMs = performance.now() - t0;
          return cb();
        }
        setTimeout(step, Math.max(1, t0 + i * gap - performance.now()));
      };
      step();
    },
    read() {},
    final(cb) {
      raw.end();
      cb();
    },
  });
  raw.on("connect", () => d.emit("connect"));
  raw.on("data", (b) => d.push(b));
  raw.on("end", () => d.push(null));
  raw.on("error", (e) => d.destroy(e));
  raw.on("close", () => d.destroy());
  return d;
}

/**
 * A client the router must refuse: it connects, sends `bytes` (nothing for a silent client),
 * optionally ends, and waits to be closed. Expected: closed within [minMs, maxMs] with no bytes
 * but a TLS alert. A connection still open at maxMs, or any other data, is a failure.
 */
export function refusedClient({ port, localAddress, kind, bytes, end, minMs = 0, maxMs }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    let got = Buffer.alloc(0);
    let settled = false;
    const done = (ok, reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ kind, ok: false, expected: ok, reason });
    };
    const timer = setTimeout(
      () =>
        done(
          false,
          `${kind}: not closed within ${maxMs} ms (sent ${bytes?.length ?? 0} bytes${bytes?.length ? ` from 0x${bytes[0].toString(16)}` : ""}${end ? " and FIN" : ""})`,
        ),
      maxMs,
    );
    s.on("connect", () => {
      if (bytes?.length) s.write(bytes);
      if (end) s.end();
    });
    s.on("data", (d) => {
      got = Buffer.concat([got, d]);
    });
    s.on("error", () => {});
    s.on("close", () => {
      const ms = performance.now() - t0;
      if (got.length && got[0] !== 0x15)
        return done(false, `${kind}: got ${got.length} bytes of data, not a refusal`);
      if (ms < minMs)
        return done(false, `${kind}: closed after ${Math.round(ms)} ms, before the hello timeout`);
      done(true, got.length ? `${kind}: alert` : `${kind}: closed`);
    });
  });
}

/** One acme-tls/1 handshake for `identifier`: checks ALPN and the acmeIdentifier = 04 20 || SHA-256(keyAuthorization). */
export function acmeClient({ port, identifier, keyAuthorization, localAddress }) {
  const want = Buffer.concat([
    Buffer.from([0x04, 0x20]),
    crypto.createHash("sha256").update(keyAuthorization).digest(),
  ]);
  return new Promise((resolve) => {
    const t = tls.connect({
      host: "127.0.0.1",
      port,
      localAddress,
      servername: identifier,
      ALPNProtocols: ["acme-tls/1"],
      rejectUnauthorized: false,
    });
    const done = (ok, reason) => {
      clearTimeout(timer);
      t.destroy();
      resolve(result("acme", ok, reason));
    };
    const timer = setTimeout(() => done(false, "acme: no handshake in 10 s"), 10_000);
    t.on("secureConnect", () => {
      if (t.alpnProtocol !== "acme-tls/1") return done(false, `acme: ALPN ${t.alpnProtocol}`);
      const der = t.getPeerX509Certificate()?.raw;
      const value = der && acmeIdentifier(der);
      if (!value) return done(false, "acme: no acmeIdentifier extension");
      done(
        value.equals(want),
        value.equals(want) ? "ok" : "acme: acmeIdentifier is not SHA-256(keyAuthorization)",
      );
    });
    t.on("error", (e) => done(false, `acme: ${e.code ?? e.message}`));
  });
}

/** The extnValue of the acmeIdentifier extension (OID 1.3.6.1.5.5.7.1.31) in a DER certificate, if any. */
export function acmeIdentifier(der) {
  const oid = Buffer.from("06082b0601050507011f", "hex");
  const i = der.indexOf(oid);
  if (i < 0) return null;
  let o = i + oid.length;
  if (der[o] === 0x01) o += 2 + der[o + 1]; // critical BOOLEAN
  if (der[o] !== 0x04) return null; // extnValue OCTET STRING
  const len = der[o + 1];
  return len < 0x80 ? der.subarray(o + 2, o + 2 + len) : null;
}

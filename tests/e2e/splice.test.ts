/**
 * @module splice.test — byte-exact splicing both ways through alpnmux: a captured ClientHello
 * followed by 64 MiB of random bytes up to a sha256 backend; 256 MiB each way into a peer that
 * stops reading for 1 s (the router must apply backpressure, not buffer: bytes in flight and
 * router RSS stay bounded); half-close and reset propagation in each direction.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { type CaptureBackend, startCaptureBackend, startHashBackend } from "../_harness/backends.ts";
import { connLog, connLogs, hello, rawClient, sleep, startRouter } from "../_harness/e2e-kit.ts";
import { workspace } from "../_harness/proc.ts";

const ws = workspace("splice", after);
const MiB = 1 << 20;
const HELLO = hello("openssl-sni");

/** Writes `data` in 1 MiB slices, waiting for `drain` when the socket buffer is full. */
async function writeAll(s: net.Socket, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += MiB) {
    if (!s.write(data.subarray(off, off + MiB))) await new Promise((r) => s.once("drain", r));
  }
}

describe("large transfers", () => {
  test("64 MiB client→server after a real hello arrives byte-exact (sha256), reply after FIN", {
    timeout: 60_000,
  }, async () => {
    const hb = await startHashBackend(ws);
    const r = await startRouter(ws, { def: hb.port, label: "router-up" });
    const payload = randomBytes(64 * MiB);
    const expected = createHash("sha256").update(HELLO).update(payload).digest("hex");
    const c = await rawClient(r.port);
    c.socket.write(HELLO);
    await writeAll(c.socket, payload);
    c.socket.end();
    const total = HELLO.length + payload.length;
    const closed = await c.closed;
    assert.equal(closed.how, "end");
    assert.equal(c.received().toString(), `${expected} ${total}\n`);
    const l = await connLog(r, (x) => x.outcome === "spliced");
    assert.equal(l.bytesUp, total);
    assert.equal(l.bytesDown, expected.length + String(total).length + 2);
    assert.equal(l.sni, "a.example.test");
    c.socket.destroy();
  });
});

/** Resident set size of a process in MiB (Linux). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** `n` blocks of 1 MiB, each distinct (block index in its first 4 bytes). */
function* blocks(n: number, seed: Buffer): Generator<Buffer> {
  for (let i = 0; i < n; i++) {
    const b = Buffer.from(seed);
    b.writeUInt32BE(i, 0);
    yield b;
  }
}

describe("backpressure: a stalled peer is not buffered by the router", () => {
  const N = 256;
  const LIMIT = 64; // MiB in flight allowed while the reader stalls (kernel buffers only)

  test(`upload: ${N} MiB into a backend that stops reading for 1 s`, { timeout: 60_000 }, async () => {
    const seed = randomBytes(MiB);
    let backendGot = 0;
    const got = createHash("sha256");
    const be = await startCaptureBackend(ws, {
      onConnection: (conn) => {
        conn.socket.pause();
        conn.socket.removeAllListeners("data"); // don't keep 256 MiB in the capture record
        conn.socket.on("data", (c: Buffer) => {
          got.update(c);
          backendGot += c.length;
        });
        setTimeout(() => conn.socket.resume(), 1000);
      },
    });
    const r = await startRouter(ws, { def: be.port, label: "router-bp-up" });
    const rss0 = rssMiB(r.proc.pid);
    const c = await rawClient(r.port);
    let sent = 0;
    let sentAtStallEnd = -1;
    let rssAtStallEnd = 0;
    const stallEnd = sleep(950).then(() => {
      sentAtStallEnd = sent;
      rssAtStallEnd = rssMiB(r.proc.pid);
    });
    c.socket.write(HELLO);
    for (const b of blocks(N, seed)) {
      if (!c.socket.write(b)) await new Promise((res) => c.socket.once("drain", res));
      sent += b.length;
    }
    c.socket.end();
    await stallEnd;
    await c.closed;
    const inFlight = sentAtStallEnd / MiB;
    console.log(
      `# upload: ${inFlight.toFixed(1)} MiB accepted while the backend stalled; router RSS ${rss0.toFixed(0)} → ${rssAtStallEnd.toFixed(0)} MiB`,
    );
    assert.ok(inFlight < LIMIT, `${inFlight.toFixed(1)} MiB accepted from the client during a 1 s stall`);
    assert.ok(rssAtStallEnd - rss0 < LIMIT, `router RSS grew by ${(rssAtStallEnd - rss0).toFixed(0)} MiB`);
    // Everything still arrives, in order.
    await be.connections[0]?.ended;
    assert.equal(backendGot, HELLO.length + N * MiB);
    const exp = createHash("sha256").update(HELLO);
    for (const b of blocks(N, seed)) exp.update(b);
    assert.equal(got.digest("hex"), exp.digest("hex"));
    c.socket.destroy();
  });

  test(`download: ${N} MiB to a client that stops reading for 1 s`, { timeout: 60_000 }, async () => {
    const seed = randomBytes(MiB);
    let backendSent = 0;
    const be = await startCaptureBackend(ws, {
      onConnection: (conn) => {
        conn.socket.once("data", async () => {
          for (const b of blocks(N, seed)) {
            if (!conn.socket.write(b)) await new Promise((res) => conn.socket.once("drain", res));
            backendSent += b.length;
          }
          conn.socket.end();
        });
      },
    });
    const r = await startRouter(ws, { def: be.port, label: "router-bp-down" });
    const rss0 = rssMiB(r.proc.pid);
    const s = net.connect({ host: "127.0.0.1", port: r.port, allowHalfOpen: true });
    const h = createHash("sha256");
    let got = 0;
    const done = new Promise<void>((resolve, reject) => {
      s.on("data", (chunk: Buffer) => {
        h.update(chunk);
        got += chunk.length;
      });
      s.on("end", () => resolve());
      s.on("error", reject);
    });
    s.once("connect", () => s.write(HELLO));
    s.pause(); // the router must hold the backend back, not buffer for us
    await sleep(1000);
    const inFlight = backendSent / MiB;
    const rss1 = rssMiB(r.proc.pid);
    s.resume();
    await done;
    s.end();
    console.log(
      `# download: ${inFlight.toFixed(1)} MiB sent by the backend while the client stalled; router RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} MiB`,
    );
    assert.ok(inFlight < LIMIT, `backend could send ${inFlight.toFixed(1)} MiB during a 1 s client stall`);
    assert.ok(rss1 - rss0 < LIMIT, `router RSS grew by ${(rss1 - rss0).toFixed(0)} MiB`);
    assert.equal(got, N * MiB);
    const exp = createHash("sha256");
    for (const b of blocks(N, seed)) exp.update(b);
    assert.equal(h.digest("hex"), exp.digest("hex"));
    const l = await connLog(r, (x) => x.outcome === "spliced");
    assert.equal(l.bytesDown, N * MiB);
    assert.equal(l.bytesUp, HELLO.length);
    s.destroy();
  });
});

describe("half-close and reset", () => {
  let cap: CaptureBackend;
  let r: Awaited<ReturnType<typeof startRouter>>;
  let hb: Awaited<ReturnType<typeof startHashBackend>>;
  let rh: Awaited<ReturnType<typeof startRouter>>;
  /** What the capture backend does with each new connection (set per test). */
  let onConn: (conn: import("../_harness/backends.ts").CapturedConnection) => void = () => {};

  before(async () => {
    cap = await startCaptureBackend(ws, { onConnection: (c) => onConn(c), endOnEnd: false });
    r = await startRouter(ws, { def: cap.port, label: "router-half" });
    hb = await startHashBackend(ws);
    rh = await startRouter(ws, { def: hb.port, label: "router-hash" });
  });

  test("client shuts down its write side and still receives the backend's reply", async () => {
    const c = await rawClient(rh.port);
    const body = Buffer.from("ping after the hello");
    c.socket.write(Buffer.concat([HELLO, body]));
    c.socket.end(); // FIN; the hash backend answers only after seeing it
    const closed = await c.closed;
    const want = createHash("sha256").update(HELLO).update(body).digest("hex");
    assert.equal(closed.how, "end");
    assert.equal(c.received().toString(), `${want} ${HELLO.length + body.length}\n`);
    c.socket.destroy();
  });

  test("a backend that half-closes first still receives client data afterwards", async () => {
    onConn = (conn) => {
      conn.socket.end("bye\n"); // backend FIN right away, but keeps reading
    };
    const i = cap.connections.length;
    const c = await rawClient(r.port);
    c.socket.write(HELLO);
    await c.waitBytes(4);
    const closed = await c.closed;
    assert.equal(closed.how, "end", "the backend's FIN reaches the client");
    assert.equal(c.received().toString(), "bye\n");
    // The client may keep talking after the server's FIN.
    c.socket.write("late data 1;");
    await sleep(50);
    c.socket.end("late data 2");
    const conn = await cap.connection(i);
    const data = await conn.ended;
    assert.deepEqual(data, Buffer.concat([HELLO, Buffer.from("late data 1;late data 2")]));
    const l = await connLog(r, (x) => x.client === `127.0.0.1:${c.localPort}`);
    assert.equal(l.outcome, "spliced");
    assert.equal(l.bytesUp, HELLO.length + 23);
    assert.equal(l.bytesDown, 4);
    c.socket.destroy();
  });

  for (const mode of ["destroy", "reset"] as const) {
    test(`client ${mode === "reset" ? "RST (resetAndDestroy)" : "close (destroy)"} ends the backend connection promptly`, async () => {
      onConn = () => {};
      const i = cap.connections.length;
      const c = await rawClient(r.port);
      c.socket.write(Buffer.concat([HELLO, Buffer.from("x")]));
      await cap.waitForBytes(i, HELLO.length + 1);
      const conn = await cap.connection(i);
      const t0 = Date.now();
      if (mode === "reset") c.socket.resetAndDestroy();
      else c.socket.destroy();
      await Promise.race([
        conn.ended,
        sleep(2000).then(() => assert.fail(`backend still open 2 s after the client's ${mode}`)),
      ]);
      const ms = Date.now() - t0;
      assert.ok(ms < 1000, `backend saw the end after ${ms} ms`);
      // After a plain close the router only saw a FIN (a half-close): the connection lasts
      // until the backend ends its side too. After an RST it is over at once.
      if (mode === "destroy") conn.socket.end();
      const l = await connLog(r, (x) => x.client === `127.0.0.1:${c.localPort}`);
      assert.equal(l.bytesUp, HELLO.length + 1);
      if (mode === "reset") assert.equal(l.end, "client-reset");
      conn.socket.destroy();
    });
  }
});

describe("shutdown", () => {
  test("SIGTERM: stops accepting, closes hello-phase clients, lets a spliced connection finish, exits 0", async () => {
    const hb = await startHashBackend(ws);
    const r = await startRouter(ws, { def: hb.port, label: "router-drain" });
    const spliced = await rawClient(r.port);
    spliced.socket.write(HELLO);
    await sleep(100); // routed and connected
    const waiting = await rawClient(r.port); // still in the hello phase
    process.kill(r.proc.pid, "SIGTERM");
    await r.waitForLog((l) => /draining/.test(String(l["message"])), 3000);
    const w = await waiting.closed;
    assert.ok(w.afterMs < 1000, `hello-phase client closed after ${w.afterMs} ms`);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect(r.port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve("connected");
      });
      s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    assert.equal(refused, "ECONNREFUSED", "new connections are refused while draining");
    assert.equal(r.proc.exitStatus(), undefined, "still running while a connection is spliced");
    const tail = Buffer.from("the rest, after SIGTERM");
    spliced.socket.end(tail);
    await spliced.closed;
    const want = createHash("sha256").update(HELLO).update(tail).digest("hex");
    assert.equal(spliced.received().toString(), `${want} ${HELLO.length + tail.length}\n`);
    const exit = await Promise.race([r.proc.exited, sleep(3000).then(() => undefined)]);
    assert.deepEqual(exit, { code: 0, signal: null });
    const hl = connLogs(r).find((l) => l.client === `127.0.0.1:${waiting.localPort}`);
    assert.equal(hl?.end, "shutdown");
    spliced.socket.destroy();
    waiting.socket.destroy();
  });
});

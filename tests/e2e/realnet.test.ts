/**
 * @module realnet.test — a real post-quantum ClientHello over a real 1500-byte-MTU path. Inside
 * a private network namespace (see `_harness/netns.ts`: lo at MTU 1500, no GSO, a `tbf` rate
 * limit), Bun's TLS client (BoringSSL, X25519MLKEM768 key share: a ~1.5 KB hello) connects
 * through alpnmux to TLS backends that say who they are. The kernel, not the test, splits the
 * hello into two TCP segments (1448 + the rest): tshark on lo proves the split, a naive reader
 * shows it arrives in two reads, and the router must still route by SNI/ALPN (h2 → default,
 * `acme-tls/1` → ACME) and log the whole hello. Runs against `ALPNMUX_CMD` like the other e2e
 * files. Needs root, iproute2 and tshark (fails otherwise, naming what is missing).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createCA, issueCert, type LeafCert } from "../_harness/certs.ts";
import { connLog, sleep } from "../_harness/e2e-kit.ts";
import { bunBin, type Netns, netnsUnavailable, spawnRouterIn, startNetns } from "../_harness/netns.ts";
import { type Proc, runProc, workspace } from "../_harness/proc.ts";
import type { Router } from "../_harness/router.ts";

const unavailable = netnsUnavailable(["tshark"]);
const ws = workspace("realnet", after);

// Ports inside the private namespace: all free, so fixed.
const ROUTER = 10443;
const ACME = 5001;
const DEFAULT = 8443;
const NAIVE = 9443;
const SNI = "a.example.test";

/** A node:tls server: after the handshake it writes one JSON line (who, alpn, sni) and ends. */
const BACKEND_JS = `
const tls = require("node:tls"), fs = require("node:fs");
const o = JSON.parse(process.env.T);
const srv = tls.createServer({ cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key), ALPNProtocols: o.alpn });
srv.on("secureConnection", (s) => {
  s.on("error", () => {});
  s.end(JSON.stringify({ who: o.name, alpn: s.alpnProtocol, sni: s.servername }) + "\\n");
});
srv.on("tlsClientError", () => {});
srv.listen(o.port, "127.0.0.1", () => console.log("ready"));
`;

/** A "sniffer" that looks only at what each read returns: prints the read sizes per connection. */
const NAIVE_JS = `
const net = require("node:net");
const o = JSON.parse(process.env.T);
net.createServer((c) => {
  const reads = [];
  let buf = Buffer.alloc(0);
  c.on("data", (d) => {
    reads.push(d.length);
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
      console.log(JSON.stringify({ reads, record: 5 + buf.readUInt16BE(3) }));
      c.destroy();
    }
  });
  c.on("error", () => {});
}).listen(o.port, "127.0.0.1", () => console.log("ready"));
`;

/** Bun's node:tls client: prints `{ localPort, alpn, reply }` or `{ error }` as JSON. */
const CLIENT_JS = `
const tls = require("node:tls");
const o = JSON.parse(process.env.T);
const out = (v) => { console.log(JSON.stringify(v)); process.exit(0); };
setTimeout(() => out({ error: "timeout" }), 8000);
const s = tls.connect({ host: "127.0.0.1", port: o.port, servername: o.sni, ALPNProtocols: o.alpn, rejectUnauthorized: false });
let localPort = 0, alpn = null, reply = "";
s.on("secureConnect", () => { localPort = s.localPort; alpn = s.alpnProtocol || null; });
s.on("connect", () => { localPort = s.localPort; });
s.on("data", (d) => { reply += d; });
s.on("end", () => out({ localPort, alpn, reply }));
s.on("error", (e) => out({ localPort, error: String(e && e.message) }));
`;

interface ClientResult {
  localPort: number;
  alpn: string | null;
  reply: string;
  error?: string;
}

let ns: Netns;
let leaf: LeafCert;
let router: Router;
let tshark: Proc;
let naive: Proc;

/** Runs the Bun client in the namespace. */
async function bunClient(port: number, alpn: string[]): Promise<ClientResult> {
  const env = { T: JSON.stringify({ port, sni: SNI, alpn }) };
  const r = await runProc(
    ws,
    `client-${alpn.join("_").replace(/[^\w.-]/g, "_")}-${port}`,
    ns.wrap([bunBin, "-e", CLIENT_JS]),
    { env, timeoutMs: 12_000 },
  );
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  assert.ok(line.startsWith("{"), `bun client printed no result: ${r.output}`);
  return JSON.parse(line) as ClientResult;
}

/** One TCP segment of the client's first flight, as tshark captured it on lo. */
interface Seg {
  src: number;
  dst: number;
  len: number;
  /** Seconds since the capture started. */
  t: number;
}

/** Segments with payload the client sent before the router's first payload (tshark on lo). */
async function clientFirstFlight(clientPort: number): Promise<Seg[]> {
  // tshark prints each packet as it is captured; give the last ones a moment to appear.
  const deadline = Date.now() + 3000;
  for (;;) {
    const segs: Seg[] = tshark.stdoutLines
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter((f) => f.length === 4 && f.every((n) => Number.isFinite(n)))
      .map(([src, dst, len, t]) => ({ src: src ?? 0, dst: dst ?? 0, len: len ?? 0, t: t ?? 0 }))
      .filter((s) => s.src === clientPort || s.dst === clientPort);
    const firstServerData = segs.findIndex((s) => s.src === ROUTER && s.len > 0);
    if (firstServerData >= 0 || Date.now() > deadline) {
      return segs
        .slice(0, firstServerData >= 0 ? firstServerData : segs.length)
        .filter((s) => s.src === clientPort && s.len > 0);
    }
    await sleep(50);
  }
}

describe("post-quantum hello split by a 1500-MTU kernel path", () => {
  // Missing prerequisites fail loudly (npm test installs them as root); they never skip.
  before(() => assert.equal(unavailable, undefined, unavailable));
  before(async () => {
    const ca = createCA(ws.subdir("pki"));
    leaf = issueCert(ca, [SNI, "localhost", "127.0.0.1"]);
    ns = await startNetns(ws);
    tshark = ns.spawn(ws, "tshark", [
      "tshark",
      "-i",
      "lo",
      "-n",
      "-l",
      "-f",
      `tcp port ${ROUTER}`,
      "-T",
      "fields",
      "-e",
      "tcp.srcport",
      "-e",
      "tcp.dstport",
      "-e",
      "tcp.len",
      "-e",
      "frame.time_relative",
    ]);
    const backends = [
      { name: "acme", port: ACME, alpn: ["acme-tls/1"] },
      { name: "default", port: DEFAULT, alpn: ["h2", "http/1.1"] },
    ].map((b) =>
      ns.spawn(ws, `backend-${b.name}`, ["node", "-e", BACKEND_JS], {
        env: { T: JSON.stringify({ ...b, cert: leaf.certPath, key: leaf.keyPath }) },
      }),
    );
    naive = ns.spawn(ws, "naive", ["node", "-e", NAIVE_JS], { env: { T: JSON.stringify({ port: NAIVE }) } });
    router = await spawnRouterIn(
      ns,
      ws,
      [
        "--listen",
        `127.0.0.1:${ROUTER}`,
        "--acme",
        `127.0.0.1:${ACME}`,
        "--default",
        `127.0.0.1:${DEFAULT}`,
        "--hello-timeout",
        "5s",
        "--log-format",
        "json",
        "--log-level",
        "debug",
      ],
      ROUTER,
    );
    await Promise.all([...backends, naive].map((p) => p.waitForLine(/^ready$/, 10_000)));
    await tshark.waitForLine(/Capturing on/, 10_000);
  });

  test("the kernel path really splits Bun's hello: a naive reader gets it in two reads", async (t) => {
    await bunClient(NAIVE, ["h2"]); // the naive reader resets it: only its report matters
    const r = JSON.parse(await naive.waitForLine(/^\{/, 5000)) as { reads: number[]; record: number };
    t.diagnostic(`naive reader: record ${r.record} bytes in reads ${JSON.stringify(r.reads)}`);
    assert.ok(r.record > 1448 && r.record < 1600, `record of ${r.record} bytes: a PQ hello`);
    assert.ok(r.reads.length >= 2, `reads ${JSON.stringify(r.reads)}: the hello arrived in one read`);
    assert.equal(r.reads[0], 1448, `first read = one MSS: ${JSON.stringify(r.reads)}`);
    // A sniffer that parses only its first read sees a truncated hello (the HAProxy/tcpproxy hole).
    assert.ok((r.reads[0] ?? 0) < r.record);
  });

  for (const [alpn, route, who] of [
    [["h2"], "default", "default"],
    [["acme-tls/1"], "acme", "acme"],
  ] as const) {
    test(`ALPN ${alpn.join(",")} → ${route}: hello in ≥ 2 TCP segments, routed by SNI/ALPN`, async (t) => {
      const c = await bunClient(ROUTER, [...alpn]);
      assert.equal(c.error, undefined, `client: ${c.error}`);
      assert.match(c.reply, /^\{.*\}\n$/, `backend reply: ${JSON.stringify(c.reply)}`);
      const reply = JSON.parse(c.reply) as { who: string; alpn: string | false; sni: string };
      assert.equal(reply.who, who);
      assert.equal(reply.sni, SNI);
      assert.equal(c.alpn, alpn[0]);
      assert.equal(reply.alpn, alpn[0], "the backend negotiated the client's protocol");
      const l = await connLog(router, (x) => x.client.endsWith(`:${c.localPort}`));
      assert.equal(l.route, route);
      assert.equal(l.sni, SNI);
      assert.deepEqual(l.alpn, [...alpn]);
      assert.equal(l.outcome, "spliced");
      const hb = l.helloBytes ?? 0;
      assert.ok(hb > 1448 && hb < 1600, `helloBytes ${hb}: a PQ hello of ~1.5 KB`);
      const flight = await clientFirstFlight(c.localPort);
      const sizes = flight.map((x) => x.len);
      const gapMs = ((flight[1]?.t ?? 0) - (flight[0]?.t ?? 0)) * 1000;
      t.diagnostic(`helloBytes ${hb}, client segments ${JSON.stringify(sizes)}, gap ${gapMs.toFixed(1)} ms`);
      assert.ok(sizes.length >= 2, `client's first flight: ${JSON.stringify(sizes)}`);
      assert.equal(sizes[0], 1448, `first segment = one MSS: ${JSON.stringify(sizes)}`);
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        hb,
        `segments ${JSON.stringify(sizes)} carry exactly the hello`,
      );
      assert.ok(gapMs >= 1, `the 2nd segment came ${gapMs} ms after the 1st (tbf should delay it)`);
    });
  }
});

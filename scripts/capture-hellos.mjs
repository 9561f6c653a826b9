#!/usr/bin/env node
/**
 * Captures golden ClientHello fixtures from real TLS clients and writes the expected fields,
 * decoded by tshark (not by our parser), beside them.
 *
 *   node scripts/capture-hellos.mjs              # every client
 *   node scripts/capture-hellos.mjs --only NAME  # one fixture (repeatable; NAME may be a prefix*)
 *   node scripts/capture-hellos.mjs --list       # names only
 *
 * For each client: start a TCP server on 127.0.0.1:0, run the client against it, read the first
 * connection until the ClientHello handshake message is complete (TLS record framing parsed here:
 * 5-byte headers, type 22, the message reassembled across records), keep the bytes exactly as
 * received through the end of the record that completes the hello, then close (the client fails,
 * as expected). Later connections (Chromium makes several) are closed unread.
 *
 * Output: packages/core/src/_testdata/hellos/NAME.bin, NAME.json, and README.md (regenerated).
 * Needs: openssl, curl, gnutls-bin, chromium, tshark (+ text2pcap), python3, lego, pebble; node,
 * and bun/deno from node_modules/.bin. Clients missing on the machine are skipped with a warning.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "packages/core/src/_testdata/hellos");
const BIN = join(ROOT, "node_modules/.bin");
const HOST = "a.example.test";
const TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// TLS record framing (our own, minimal, independent of packages/core)

/**
 * Returns { end, records } once buf holds a complete ClientHello, null while more bytes are needed.
 * Throws on anything that is not a handshake record carrying a ClientHello.
 */
function helloEnd(buf) {
  let off = 0;
  let records = 0;
  const msg = [];
  let msgLen = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== 22) throw new Error(`record type ${buf[off]} at ${off}, expected 22`);
    const len = buf.readUInt16BE(off + 3);
    if (off + 5 + len > buf.length) return null;
    msg.push(buf.subarray(off + 5, off + 5 + len));
    msgLen += len;
    off += 5 + len;
    records++;
    if (msgLen >= 4) {
      const m = Buffer.concat(msg);
      if (m[0] !== 1) throw new Error(`handshake type ${m[0]}, expected 1 (ClientHello)`);
      const hlen = m.readUIntBE(1, 3);
      if (m.length >= 4 + hlen) {
        if (m.length !== 4 + hlen)
          console.warn(`  note: ${m.length - 4 - hlen} bytes after the hello in its record`);
        return { end: off, records };
      }
    }
  }
  return null;
}

/** Re-frames a single-record hello into records carrying `sizes` bytes of the message each (last: the rest). */
function reframe(bin, sizes) {
  const version = bin.subarray(1, 3);
  const msg = bin.subarray(5, 5 + bin.readUInt16BE(3));
  const parts = [];
  let off = 0;
  for (const n of [...sizes, Number.POSITIVE_INFINITY]) {
    if (off >= msg.length) break;
    const frag = msg.subarray(off, Math.min(off + n, msg.length));
    const head = Buffer.from([22, version[0], version[1], frag.length >> 8, frag.length & 0xff]);
    parts.push(head, frag);
    off += frag.length;
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Clients

const sh = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return null;
  }
};
// biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
const deb = (pkg) => sh("dpkg-query", ["-W", "-f", "${Version}", pkg]);
const first = (s) => (s ?? "").split("\n")[0];

const V = {
  openssl: () =>
    first(sh("openssl", ["version"]))
      .split(" ")
      .slice(0, 2)
      .join(" "),
  curl: () => {
    const v = first(sh("curl", ["--version"]));
    return `curl ${v.split(" ")[1]} (${/OpenSSL\/\S+/.exec(v)?.[0] ?? "?"})`;
  },
  node: () => `Node ${process.version} (OpenSSL ${process.versions.openssl})`,
  bun: () => `Bun ${sh(join(BIN, "bun"), ["--version"])} (BoringSSL)`,
  deno: () => `Deno ${first(sh(join(BIN, "deno"), ["--version"])).split(" ")[1]} (rustls)`,
  python: () =>
    sh("python3", [
      "-c",
      "import ssl,platform;print('Python',platform.python_version(),'('+ssl.OPENSSL_VERSION+')')",
    ]),
  gnutls: () =>
    `gnutls-cli ${first(sh("gnutls-cli", ["--version"]))
      .split(" ")
      .pop()}`,
  chromium: () => `${first(sh("chromium", ["--version"])).replace(/ built on.*/, "")} headless`,
  lego: () => `lego ${deb("lego")} (Debian, Go ${goVersion("/usr/bin/lego")} crypto/tls)`,
  pebble: () => `pebble ${deb("pebble")} VA (Debian, Go ${goVersion("/usr/bin/pebble")} crypto/tls)`,
};
function goVersion(bin) {
  const m = /go1\.\d+(\.\d+)?/.exec(readFileSync(bin).toString("latin1"));
  return m ? m[0].slice(2) : "?";
}

const openssl =
  (...flags) =>
  (port) => ["openssl", "s_client", "-connect", `127.0.0.1:${port}`, ...flags];

const NODE_JS = (alpn) =>
  `const tls=require("node:tls");const s=tls.connect({host:"127.0.0.1",port:+process.argv[1],servername:"${HOST}",` +
  `ALPNProtocols:${JSON.stringify(alpn)},rejectUnauthorized:false});s.on("error",()=>process.exit(0));`;
const BUN_CONNECT_JS =
  // Bun wants ALPN in wire format (length-prefixed), see FACTS.md.
  `await Bun.connect({hostname:"127.0.0.1",port:+process.argv[1],tls:{serverName:"${HOST}",rejectUnauthorized:false,` +
  `ALPNProtocols:new Uint8Array([10,...new TextEncoder().encode("acme-tls/1")])},` +
  `socket:{data(){},error(){process.exit(0)},close(){process.exit(0)},connectError(){process.exit(0)}}});`;
const BUN_NODE_TLS_JS =
  `import tls from "node:tls";const s=tls.connect({host:"127.0.0.1",port:+process.argv[1],servername:"${HOST}",` +
  `ALPNProtocols:["h2","http/1.1"],rejectUnauthorized:false});s.on("error",()=>process.exit(0));`;
// Deno.connectTls has no serverName option and rustls sends no SNI for an IP literal, so the SNI
// variant connects with Deno.connect and upgrades with Deno.startTls({hostname}) (hostname = SNI).
const DENO_CONNECT_JS = (alpn) =>
  `try{await (await Deno.connectTls({hostname:"127.0.0.1",port:+Deno.args[0],` +
  `alpnProtocols:${JSON.stringify(alpn)}})).handshake()}catch{}`;
const DENO_STARTTLS_JS = (alpn) =>
  `try{const c=await Deno.connect({hostname:"127.0.0.1",port:+Deno.args[0]});` +
  `await (await Deno.startTls(c,{hostname:"${HOST}",alpnProtocols:${JSON.stringify(alpn)}})).handshake()}catch{}`;
const PY =
  "import socket,ssl,sys\nc=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n" +
  "c.set_alpn_protocols(['h2','http/1.1'])\ns=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n" +
  `try: c.wrap_socket(s,server_hostname='${HOST}')\nexcept Exception: pass\n`;

/** @type {{name:string, client:()=>string, argv:(port:string)=>string[], setup?:Function, note?:string}[]} */
const CLIENTS = [
  // openssl s_client: default offers TLS 1.3 + 1.2 (supported_versions 1.3..1.0)
  { name: "openssl-sni", client: V.openssl, argv: openssl("-servername", HOST) },
  { name: "openssl-sni-acme", client: V.openssl, argv: openssl("-servername", HOST, "-alpn", "acme-tls/1") },
  { name: "openssl-sni-h2", client: V.openssl, argv: openssl("-servername", HOST, "-alpn", "h2,http/1.1") },
  { name: "openssl-nosni", client: V.openssl, argv: openssl("-noservername") },
  { name: "openssl-nosni-acme", client: V.openssl, argv: openssl("-noservername", "-alpn", "acme-tls/1") },
  {
    name: "openssl-tls13-sni-acme",
    client: V.openssl,
    argv: openssl("-tls1_3", "-servername", HOST, "-alpn", "acme-tls/1"),
  },
  { name: "openssl-tls12-sni", client: V.openssl, argv: openssl("-tls1_2", "-servername", HOST) },
  {
    name: "openssl-tls12-sni-acme",
    client: V.openssl,
    argv: openssl("-tls1_2", "-servername", HOST, "-alpn", "acme-tls/1"),
  },
  { name: "openssl-tls12-nosni", client: V.openssl, argv: openssl("-tls1_2", "-noservername") },
  {
    name: "curl-http1",
    client: V.curl,
    argv: (p) => ["curl", "-sk", "--http1.1", "--resolve", `${HOST}:${p}:127.0.0.1`, `https://${HOST}:${p}/`],
  },
  {
    name: "curl-http2",
    client: V.curl,
    argv: (p) => ["curl", "-sk", "--http2", "--resolve", `${HOST}:${p}:127.0.0.1`, `https://${HOST}:${p}/`],
  },
  {
    name: "node-tls-acme",
    client: V.node,
    argv: (p) => [process.execPath, "-e", NODE_JS(["acme-tls/1"]), p],
  },
  {
    name: "node-tls-h2",
    client: V.node,
    argv: (p) => [process.execPath, "-e", NODE_JS(["h2", "http/1.1"]), p],
  },
  { name: "bun-connect-acme", client: V.bun, argv: (p) => [join(BIN, "bun"), "-e", BUN_CONNECT_JS, p] },
  { name: "bun-node-tls-h2", client: V.bun, argv: (p) => [join(BIN, "bun"), "-e", BUN_NODE_TLS_JS, p] },
  {
    name: "deno-starttls-acme",
    client: V.deno,
    argv: (p) => [join(BIN, "deno"), "eval", DENO_STARTTLS_JS(["acme-tls/1"]), p],
  },
  {
    name: "deno-connecttls-nosni-h2",
    client: V.deno,
    argv: (p) => [join(BIN, "deno"), "eval", DENO_CONNECT_JS(["h2", "http/1.1"]), p],
  },
  { name: "python-ssl-h2", client: V.python, argv: (p) => ["python3", "-c", PY, p] },
  {
    name: "gnutls-sni-acme",
    client: V.gnutls,
    argv: (p) => [
      "gnutls-cli",
      "--no-ca-verification",
      "--alpn",
      "acme-tls/1",
      "--sni-hostname",
      HOST,
      "-p",
      p,
      "127.0.0.1",
    ],
  },
  {
    name: "chromium",
    client: V.chromium,
    argv: (p) => [
      "chromium",
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--user-data-dir=$TMPDIR",
      `--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
      `https://${HOST}:${p}/`,
    ],
  },
  {
    // Go's crypto/tls via lego's ACME client (net/http: ALPN h2,http/1.1). /etc/hosts is replaced
    // inside a private mount namespace so that Go resolves a.example.test and sends SNI.
    name: "go-lego",
    client: V.lego,
    argv: (p) => [
      "unshare",
      "-m",
      "sh",
      "-c",
      `echo "127.0.0.1 ${HOST}" > $TMPDIR/hosts && mount --bind $TMPDIR/hosts /etc/hosts && ` +
        `exec lego --server https://${HOST}:${p}/dir --email a@example.test --domains ${HOST} --http ` +
        `--accept-tos --path $TMPDIR/lego run`,
    ],
  },
  { name: "go-pebble-va", client: V.pebble, argv: pebbleArgv },
];

/**
 * Pebble's tls-alpn-01 validator: pebble's tlsPort is our capture port; lego (its own TLS
 * listener elsewhere) asks for a certificate so that pebble dials us. Random ports throughout.
 */
function pebbleArgv(p, tmp, freePorts) {
  if (!tmp)
    return [
      "pebble -config pebble.json (tlsPort: PORT) -dnsserver 127.0.0.1:DNS + pebble-challtestsrv -defaultIPv4 127.0.0.1 -dns01 127.0.0.1:DNS;",
      "lego --server https://127.0.0.1:ACME/dir --domains a.example.test --tls --tls.port 127.0.0.1:OTHER run (pebble's VA dials PORT)",
    ];
  const [acme, mgmt, dns, ctsMgmt, legoTls] = freePorts;
  writeFileSync(
    join(tmp, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acme}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(tmp, "cert.pem"),
        privateKey: join(tmp, "key.pem"),
        httpPort: 5002,
        tlsPort: Number(p),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const script = [
    `cd ${tmp}`,
    `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=ca -keyout ca.key -out ca.pem 2>/dev/null`,
    `openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout key.pem -out req.csr 2>/dev/null`,
    `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf`,
    `openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem 2>/dev/null`,
    `pebble-challtestsrv -defaultIPv6 "" -defaultIPv4 127.0.0.1 -http01 "" -https01 "" -tlsalpn01 "" -dns01 127.0.0.1:${dns} -management 127.0.0.1:${ctsMgmt} >cts.log 2>&1 &`,
    `PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 pebble -config pebble.json -dnsserver 127.0.0.1:${dns} >pebble.log 2>&1 &`,
    `for i in $(seq 50); do curl -s --cacert ca.pem https://127.0.0.1:${acme}/dir >/dev/null && break; sleep 0.1; done`,
    `LEGO_CA_CERTIFICATES=ca.pem exec lego --server https://127.0.0.1:${acme}/dir --email a@example.test --domains ${HOST} --tls --tls.port 127.0.0.1:${legoTls} --accept-tos --path lego run`,
  ].join("\n");
  return ["sh", "-c", script];
}

// ---------------------------------------------------------------------------------------------
// Capture

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function capture(def) {
  const tmp = mkdtempSync(join(tmpdir(), `hello-${def.name}-`));
  const server = net.createServer();
  let done = false;
  let resolveHello;
  let rejectHello;
  const hello = new Promise((res, rej) => {
    resolveHello = res;
    rejectHello = rej;
  });
  server.on("connection", (sock) => {
    sock.on("error", () => {});
    if (done) return void sock.destroy();
    done = true; // keep only the first connection
    let buf = Buffer.alloc(0);
    let reads = 0;
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      reads++;
      try {
        const r = helloEnd(buf);
        if (r) {
          resolveHello({
            bytes: buf.subarray(0, r.end),
            records: r.records,
            reads,
            extra: buf.length - r.end,
          });
          sock.destroy();
        }
      } catch (e) {
        rejectHello(e);
        sock.destroy();
      }
    });
    sock.on("end", () => rejectHello(new Error(`connection ended after ${buf.length} bytes`)));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = String(server.address().port);
  const freePorts = await Promise.all([1, 2, 3, 4, 5].map(freePort));
  const argv = def.argv(port, tmp, freePorts).map((a) => a.replaceAll("$TMPDIR", tmp));
  let stderr = "";
  const child = spawn(argv[0], argv.slice(1), {
    detached: true,
    stdio: ["pipe", "ignore", "pipe"],
    cwd: tmp,
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.on("error", (e) => rejectHello(e));
  child.on("exit", (code) =>
    setTimeout(() => rejectHello(new Error(`client exited (${code}) before a hello`)), 500),
  );
  const timer = setTimeout(() => rejectHello(new Error(`no hello within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  try {
    return await hello;
  } catch (e) {
    e.message += stderr ? `\n  client stderr: ${stderr.trim().split("\n").slice(-5).join("\n  ")}` : "";
    throw e;
  } finally {
    clearTimeout(timer);
    try {
      process.kill(-child.pid, "SIGKILL"); // the client's own process group (Chromium has children)
    } catch {}
    server.close();
    await new Promise((r) => setTimeout(r, 300)); // let killed children release tmp files
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// tshark decode → sidecar fields

const isGrease = (v) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
const FIELDS = {
  sni: "tls.handshake.extensions_server_name",
  alpn: "tls.handshake.extensions_alpn_str",
  versions: "tls.handshake.extensions.supported_version",
  ext: "tls.handshake.extension.type",
  ks: "tls.handshake.extensions_key_share_group",
  legacy: "tls.handshake.version",
  suites: "tls.handshake.ciphersuite",
  records: "tls.record.content_type",
};

function tshark(bin) {
  const tmp = mkdtempSync(join(tmpdir(), "hello-pcap-"));
  try {
    writeFileSync(join(tmp, "h.bin"), bin);
    // text2pcap: one fake TCP segment 40000 → 443 carrying exactly the file's bytes.
    writeFileSync(join(tmp, "h.hex"), execFileSync("od", ["-Ax", "-tx1", "-v", join(tmp, "h.bin")]));
    execFileSync("text2pcap", ["-q", "-T", "40000,443", join(tmp, "h.hex"), join(tmp, "h.pcap")], {
      stdio: "ignore",
    });
    const args = [
      "-r",
      join(tmp, "h.pcap"),
      "-T",
      "json",
      "-d",
      "tcp.port==443,tls",
      "-Y",
      "tls.handshake.type==1",
    ];
    for (const f of Object.values(FIELDS)) args.push("-e", f);
    const out = JSON.parse(
      execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
    );
    if (out.length !== 1) throw new Error(`tshark found ${out.length} ClientHello packets`);
    const L = out[0]._source.layers;
    const nums = (f) => (L[f] ?? []).map(Number).filter((v) => !isGrease(v));
    const extensions = nums(FIELDS.ext);
    const has = (t) => extensions.includes(t);
    const legacy = nums(FIELDS.legacy);
    if (legacy.length !== 1) throw new Error(`tshark legacy versions: ${legacy}`);
    return {
      sni: L[FIELDS.sni]?.[0] ?? null,
      alpn: has(16) ? (L[FIELDS.alpn] ?? []) : null,
      legacyVersion: legacy[0],
      supportedVersions: has(43) ? nums(FIELDS.versions) : null,
      extensions,
      keyShareGroups: has(51) ? nums(FIELDS.ks) : null,
      cipherSuites: nums(FIELDS.suites),
      ech: has(0xfe0d),
      records: (L[FIELDS.records] ?? []).length,
      bytes: bin.length,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** JSON with one top-level key per line and compact values. */
const pretty = (o) =>
  `{\n${Object.entries(o)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(",\n")}\n}\n`;

function writeFixture(name, client, command, bin, ownRecords) {
  const f = tshark(bin);
  if (f.records !== ownRecords)
    throw new Error(`${name}: tshark saw ${f.records} records, framing says ${ownRecords}`);
  const sidecar = { client, command, ...f };
  writeFileSync(join(OUT, `${name}.bin`), bin);
  writeFileSync(join(OUT, `${name}.json`), pretty(sidecar));
  console.log(
    `  ${name}: ${bin.length} B, ${f.records} record(s), sni=${f.sni}, alpn=${JSON.stringify(f.alpn)}, ` +
      `versions=${JSON.stringify(f.supportedVersions)}, ks=${JSON.stringify(f.keyShareGroups)}, ech=${f.ech}`,
  );
  return sidecar;
}

// Multi-record variants: re-framed from a real single-record capture.
const MULTI = [
  {
    name: "chromium-multirecord",
    from: "chromium",
    // three records of roughly a third each
    sizes: (len) => [Math.floor(len / 3), Math.floor(len / 3)],
    how: "the chromium.bin handshake message re-framed into 3 records of ~1/3 each",
  },
  {
    name: "go-pebble-va-multirecord",
    from: "go-pebble-va",
    // the 4-byte handshake header itself split: 2 bytes, then 100, then the rest
    sizes: () => [2, 100],
    how: "the go-pebble-va.bin handshake message re-framed into records of 2, 100 and the rest (splits the handshake header)",
  },
];

function writeReadme() {
  const rows = [];
  for (const f of readdirSync(OUT)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const j = JSON.parse(readFileSync(join(OUT, f), "utf8"));
    rows.push(
      `| \`${f.slice(0, -5)}\` | ${j.client} | ${j.bytes} | ${j.records} | ${j.sni ?? "—"} | ` +
        `${j.alpn ? j.alpn.join(", ") : "—"} | ${(j.supportedVersions ?? ["—"]).map((v) => (typeof v === "number" ? `0x${v.toString(16)}` : v)).join(" ")} | ` +
        `${(j.keyShareGroups ?? ["—"]).join(" ")} | ${j.ech ? "yes" : "no"} |`,
    );
  }
  const ver = first(sh("tshark", ["--version"]));
  writeFileSync(
    join(OUT, "README.md"),
    `# Golden ClientHellos

Captured from real clients by \`scripts/capture-hellos.mjs\` on ${new Date().toISOString().slice(0, 10)}
(Debian 12). Each \`NAME.bin\` holds the client's first flight exactly as received on a loopback
TCP socket, **through the end of the record that completes the ClientHello** and nothing after.
\`*-multirecord.bin\` files are synthetic: a real capture's handshake message re-framed into several
records (the record bodies concatenate to the original message).

\`NAME.json\` holds the expected fields, decoded by **${ver}** from a pcap of the bytes
(\`text2pcap -T 40000,443\`, then \`tshark -T json -d tcp.port==443,tls -Y tls.handshake.type==1 -e ...\`),
not by our parser. GREASE values (RFC 8701: 0x0a0a, 0x1a1a, … 0xfafa) are removed from every
list. \`records\` is the number of TLS records tshark saw; \`bytes\` the file length. \`alpn\`,
\`supportedVersions\`, \`keyShareGroups\` are null when the extension is absent; \`sni\` is null
when there is no server_name; \`ech\` is true when extension 0xfe0d (65037) is present (Chromium
sends ECH GREASE). \`command\` shows the client command with the capture port as \`PORT\`.

Tested by \`packages/core/src/clienthello.golden.test.ts\`.

## Regenerate

\`\`\`sh
apt-get install -y openssl curl gnutls-bin chromium tshark lego pebble   # python3, node, bun, deno assumed
node scripts/capture-hellos.mjs               # all fixtures (~1 min)
node scripts/capture-hellos.mjs --only chromium --only chromium-multirecord
\`\`\`

Random values (client random, session id, key shares, Chromium's extension order) change on every
capture; the expected fields are rewritten with the bytes, so the pair always agrees.

## Fixtures

| name | client | bytes | records | SNI | ALPN | supported_versions | key_share groups | ECH |
|---|---|---|---|---|---|---|---|---|
${rows.join("\n")}

Groups: 29 = x25519, 23 = secp256r1, 4588 (0x11ec) = X25519MLKEM768, 25497 (0x6399) = X25519Kyber768Draft00.
`,
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const args = process.argv.slice(2);
  const only = args.flatMap((a, i) => (args[i - 1] === "--only" ? [a] : []));
  const want = (n) =>
    only.length === 0 || only.some((o) => (o.endsWith("*") ? n.startsWith(o.slice(0, -1)) : n === o));
  if (args.includes("--list")) {
    for (const c of [...CLIENTS, ...MULTI]) console.log(c.name);
    return;
  }
  const failed = [];
  for (const def of CLIENTS.filter((c) => want(c.name))) {
    console.log(`${def.name}:`);
    try {
      const client = def.client();
      const command = def.argv("PORT").join(" ").replaceAll(ROOT, "./").replaceAll(".//", "./");
      const { bytes, records, reads, extra } = await capture(def);
      if (extra) console.log(`  (${extra} bytes after the hello were dropped)`);
      if (reads > 1) console.log(`  (arrived in ${reads} reads)`);
      writeFixture(def.name, client, command, bytes, records);
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      failed.push(def.name);
    }
  }
  for (const m of MULTI.filter((c) => want(c.name))) {
    console.log(`${m.name}:`);
    try {
      const src = readFileSync(join(OUT, `${m.from}.bin`));
      const srcJson = JSON.parse(readFileSync(join(OUT, `${m.from}.json`), "utf8"));
      const bin = reframe(src, m.sizes(src.length - 5));
      const r = helloEnd(bin);
      if (!r || r.end !== bin.length) throw new Error("re-framing broke the hello");
      writeFixture(m.name, srcJson.client, `synthetic: ${m.how}`, bin, r.records);
    } catch (e) {
      console.log(`  FAILED: ${e.message}`);
      failed.push(m.name);
    }
  }
  writeReadme();
  if (failed.length) {
    console.log(`\nfailed: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}

await main();

/**
 * @module binary.test — builds the single-file binary once (`bun build --compile`, ~110 MB) and
 * smoke-tests it: `--help`, `--version`, `hello` on golden fixtures (compared with the tshark
 * sidecars), `check` on good and bad configs, and acme-vs-default routing with openssl through
 * the binary (the e2e router harness pointed at it via `ALPNMUX_CMD`).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startTlsIdentityServer } from "../_harness/backends.ts";
import { createCA, issueCert } from "../_harness/certs.ts";
import { opensslClient } from "../_harness/clients.ts";
import { connLog, startRouter } from "../_harness/e2e-kit.ts";
import { repoRoot, runProc, workspace } from "../_harness/proc.ts";

const ws = workspace("binary", after);
const BIN = path.join(repoRoot, "tests", ".work", "bin", "alpnmux");
const HELLOS = path.join(repoRoot, "packages", "core", "src", "_testdata", "hellos");

before(async () => {
  fs.mkdirSync(path.dirname(BIN), { recursive: true });
  fs.rmSync(BIN, { force: true });
  const t0 = Date.now();
  const b = await runProc(
    ws,
    "bun-build",
    [
      path.join(repoRoot, "node_modules", ".bin", "bun"),
      "build",
      "--compile",
      "--outfile",
      BIN,
      path.join(repoRoot, "packages", "bun-listener", "src", "cli.ts"),
    ],
    { timeoutMs: 180_000 },
  );
  assert.equal(b.code, 0, `bun build --compile failed:\n${b.output.slice(-3000)}`);
  const size = fs.statSync(BIN).size;
  console.log(`# built ${BIN}: ${(size / 2 ** 20).toFixed(0)} MiB in ${Date.now() - t0} ms`);
  // The e2e router harness runs ALPNMUX_CMD instead of the workspace script.
  process.env["ALPNMUX_CMD"] = BIN;
});

const bin = (label: string, args: string[], stdin?: string) =>
  runProc(ws, label, [BIN, ...args], { timeoutMs: 20_000, ...(stdin !== undefined ? { stdin } : {}) });

describe("the compiled binary", () => {
  test("--help exits 0 with the usage text; --version names bun", async () => {
    const h = await bin("help", ["--help"]);
    assert.equal(h.code, 0, h.output);
    assert.match(h.stdout, /^alpnmux: TLS :443 router/);
    assert.match(h.stdout, /--default-proxy none\|v1\|v2/);
    const v = await bin("version", ["--version"]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^alpnmux \d+\.\d+\.\d+ \(bun \d+\.\d+\.\d+\)$/);
    const bad = await bin("bad-flag", ["--no-such-flag"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown flag "--no-such-flag"/);
  });

  test("hello describes golden fixtures as their tshark sidecars do", async () => {
    for (const name of ["chromium", "go-pebble-va-multirecord", "openssl-nosni", "bun-connect-acme"]) {
      const want = JSON.parse(fs.readFileSync(path.join(HELLOS, `${name}.json`), "utf8")) as {
        sni: string | null;
        alpn: string[] | null;
        ech: boolean;
        bytes: number;
        records: number;
      };
      const r = await bin(`hello-${name}`, ["hello", path.join(HELLOS, `${name}.bin`)]);
      assert.equal(r.code, 0, r.output);
      const got = JSON.parse(r.stdout) as typeof want;
      assert.deepEqual(
        { sni: got.sni, alpn: got.alpn, ech: got.ech, bytes: got.bytes, records: got.records },
        { sni: want.sni, alpn: want.alpn, ech: want.ech, bytes: want.bytes, records: want.records },
        name,
      );
    }
    const notTls = await bin("hello-stdin", ["hello", "-"], "GET / HTTP/1.1\r\n\r\n");
    assert.equal(notTls.code, 1);
    assert.equal(JSON.parse(notTls.stdout).error, "not-tls");
  });

  test("check accepts a good config and names the bad field of a broken one", async () => {
    const good = path.join(ws.dir, "good.yaml");
    fs.writeFileSync(
      good,
      'listen: ["127.0.0.1:8443"]\ndefault: { upstream: "127.0.0.1:9443", proxy: v2 }\n',
    );
    const g = await bin("check-good", ["check", good]);
    assert.equal(g.code, 0, g.output);
    const badFile = path.join(ws.dir, "bad.yaml");
    fs.writeFileSync(badFile, 'default: { upstream: "127.0.0.1" }\n');
    const b = await bin("check-bad", ["check", badFile]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /default\.upstream/);
  });

  test("routes acme-tls/1 to the ACME server and the rest to the default (openssl)", async () => {
    const ca = createCA(ws.subdir("pki"));
    const leaf = issueCert(ca, ["a.example.test"]);
    const acme = await startTlsIdentityServer(ws, { name: "acme", cert: leaf, alpn: ["acme-tls/1"] });
    const def = await startTlsIdentityServer(ws, { name: "default", cert: leaf });
    const r = await startRouter(ws, { acme: acme.port, def: def.port, label: "router-bin" });
    assert.equal(r.argv[0], BIN);
    const a = await opensslClient({ port: r.port, servername: "a.example.test", alpn: ["acme-tls/1"] });
    assert.equal(a.who, "acme");
    assert.equal(a.alpn, "acme-tls/1");
    const d = await opensslClient({ port: r.port, servername: "a.example.test", alpn: ["h2", "http/1.1"] });
    assert.equal(d.who, "default");
    const l = await connLog(r, (x) => x.route === "acme");
    assert.equal(l.outcome, "spliced");
    await r.stop();
    assert.equal(r.proc.exitStatus()?.code, 0, "SIGTERM drains and exits 0");
  });
});

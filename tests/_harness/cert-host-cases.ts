/**
 * @module cert-host-cases — the `CertHost` contract (`@alpnmux/core/certs/host`) as one set of
 * tests, run in-process against each runtime's implementation: `tests/bun/cert-host.test.ts`
 * (Bun's) and `tests/deno/cert-host.test.ts` (Deno's). Real files in a temp directory, real
 * `sh`, and a real HTTPS server whose certificate only the test CA vouches for.
 *
 * @example
 * import { certHostCases } from "../_harness/cert-host-cases.ts";
 * certHostCases(certHost, "bun");
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { CertHost } from "../../packages/core/src/certs/host.ts";
import { createCA, issueCert } from "./certs.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mode = (p: string) => fs.statSync(p).mode & 0o777;
/** Whether `pid` runs (a zombie waiting for its reaper does not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

/** Registers the contract tests for `host` (`runtime` names the describe blocks). */
export function certHostCases(host: CertHost, runtime: string): void {
  let dir = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `alpnmux-cert-host-${runtime}-`));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe(`${runtime} certHost files`, () => {
    test("readFile: the bytes, or null for a missing file; other errors reject", async () => {
      fs.writeFileSync(path.join(dir, "present"), "abc");
      assert.deepEqual(await host.readFile(path.join(dir, "present")), new Uint8Array([97, 98, 99]));
      assert.equal(await host.readFile(path.join(dir, "missing")), null);
      assert.equal(await host.readFile(path.join(dir, "no-dir", "missing")), null);
      await assert.rejects(host.readFile(dir)); // a directory: not "missing"
    });

    test("writeFileAtomic: creates parents 0700, the file with exactly the mode, no temp left", async () => {
      const out = path.join(dir, "new", "deeper", "privkey.pem");
      const old = process.umask(0o077);
      try {
        await host.writeFileAtomic(out, "secret\n", 0o600);
        await host.writeFileAtomic(path.join(dir, "new", "cert.pem"), new Uint8Array([1, 2, 3]), 0o644);
      } finally {
        process.umask(old);
      }
      assert.equal(fs.readFileSync(out, "utf8"), "secret\n");
      assert.equal(mode(out), 0o600);
      // 0644 despite the umask 077: the mode is set, not masked.
      assert.equal(mode(path.join(dir, "new", "cert.pem")), 0o644);
      assert.deepEqual([...fs.readFileSync(path.join(dir, "new", "cert.pem"))], [1, 2, 3]);
      assert.equal(mode(path.join(dir, "new")), 0o700);
      assert.equal(mode(path.join(dir, "new", "deeper")), 0o700);
      assert.deepEqual(fs.readdirSync(path.join(dir, "new", "deeper")), ["privkey.pem"]);
    });

    test("writeFileAtomic: replaces a file by rename (a reader's open file keeps the old bytes)", async () => {
      const sub = path.join(dir, "existing");
      fs.mkdirSync(sub, { mode: 0o755 });
      fs.chmodSync(sub, 0o755);
      const file = path.join(sub, "fullchain.pem");
      fs.writeFileSync(file, "old");
      const inodeBefore = fs.statSync(file).ino;
      const fd = fs.openSync(file, "r");
      try {
        await host.writeFileAtomic(file, "new contents", 0o644);
        const buf = Buffer.alloc(16);
        const n = fs.readSync(fd, buf, 0, 16, 0);
        assert.equal(buf.subarray(0, n).toString(), "old");
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(fs.readFileSync(file, "utf8"), "new contents");
      assert.notEqual(fs.statSync(file).ino, inodeBefore);
      assert.equal(mode(sub), 0o755, "an existing directory keeps its mode");
      assert.deepEqual(fs.readdirSync(sub), ["fullchain.pem"]);
    });

    test("writeFileAtomic: a failed rename rejects and leaves no temp file", async () => {
      const sub = path.join(dir, "blocked");
      fs.mkdirSync(path.join(sub, "target.pem"), { recursive: true }); // a non-empty directory
      fs.writeFileSync(path.join(sub, "target.pem", "x"), "");
      await assert.rejects(host.writeFileAtomic(path.join(sub, "target.pem"), "data", 0o600));
      assert.deepEqual(fs.readdirSync(sub), ["target.pem"]);
    });
  });

  describe(`${runtime} certHost run`, () => {
    test("exit code, the extra env on top of the process env, stdout and stderr both kept", async () => {
      process.env["ALPNMUX_TEST_INHERITED"] = "from-parent";
      const r = await host.run(
        'echo "name=$ALPNMUX_CERT_NAME dir=$ALPNMUX_CERT_DIR inherited=$ALPNMUX_TEST_INHERITED"; echo oops >&2; exit 3',
        { ALPNMUX_CERT_NAME: "web", ALPNMUX_CERT_DIR: "/etc/ssl/web" },
        10_000,
      );
      assert.equal(r.code, 3);
      assert.match(r.output, /name=web dir=\/etc\/ssl\/web inherited=from-parent\n/);
      assert.match(r.output, /oops\n/);
      const ok = await host.run("true", {}, 10_000);
      assert.deepEqual(ok, { code: 0, output: "" });
    });

    test("output: only the last 4 KiB", async () => {
      const r = await host.run("head -c 10000 /dev/zero | tr '\\0' a; printf END", {}, 10_000);
      assert.equal(r.code, 0);
      assert.equal(r.output.length, 4096);
      assert.ok(r.output.endsWith("aaaEND"));
    });

    test("timeout: code null, and what sh started is killed too", async () => {
      const pidFile = path.join(dir, "grandchild.pid");
      const t0 = Date.now();
      const r = await host.run(`echo started; sleep 30 & echo $! > ${pidFile}; wait`, {}, 700);
      const took = Date.now() - t0;
      assert.equal(r.code, null);
      assert.match(r.output, /started/);
      assert.ok(took >= 650 && took < 5000, `took ${took} ms`);
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      for (let i = 0; i < 20 && alive(pid); i++) await sleep(50);
      assert.equal(alive(pid), false, `sleep ${pid} still runs`);
    });

    test("a background child holding the pipes does not hold up the result", async () => {
      const pidFile = path.join(dir, "bg.pid");
      const t0 = Date.now();
      const r = await host.run(`sleep 20 & echo $! > ${pidFile}; echo done`, {}, 10_000);
      assert.equal(r.code, 0);
      assert.match(r.output, /done/);
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGKILL");
    });
  });

  describe(`${runtime} certHost acmeFetch`, () => {
    let server: https.Server | undefined;
    let url = "";
    let caPem = "";
    before(async () => {
      const ca = createCA(path.join(dir, "pki"), "cert-host test CA");
      const leaf = issueCert(ca, ["localhost", "127.0.0.1"]);
      caPem = ca.cert;
      server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end("directory"));
      const srv = server;
      await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
      url = `https://127.0.0.1:${(srv.address() as { port: number }).port}/dir`;
    });
    after(() => {
      server?.closeAllConnections();
      server?.close();
    });

    test("with the extra CA the CA's HTTPS is trusted; without it, it is not", async () => {
      const f = host.acmeFetch(caPem);
      const res = await f(url, { method: "GET", headers: { "user-agent": "alpnmux-test" } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "directory");
      // The same fetch again (the client/roots are reused).
      assert.equal(await (await f(url)).text(), "directory");
      await assert.rejects(host.acmeFetch(undefined)(url));
    });
  });
}

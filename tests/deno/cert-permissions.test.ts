/**
 * @module cert-permissions.test — `alpnmux-deno run` with `certificates:` checks its Deno
 * permissions before it starts: without ALPNMUX_DENO_ALLOW_WRITE / ALPNMUX_DENO_ALLOW_RUN it
 * exits 1 naming each config field and the value to set; with them it starts. Runs the real
 * bin script (its default permission set) as a child process. Run with `deno test -A tests/deno`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";

const bin = path.resolve(import.meta.dirname ?? ".", "../../packages/deno-listener/bin/alpnmux-deno");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alpnmux-deno-perms-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs the bin until it exits, or until `until` matches its output (then SIGTERM). */
function runBin(args: string[], env: Record<string, string>, until?: RegExp) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(bin, args, {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/", ...env },
    });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (until?.test(out)) child.kill("SIGTERM");
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("alpnmux-deno: certificate permissions checked up front", () => {
  const storage = path.join(dir, "storage");
  const out = path.join(dir, "out", "web");
  const config = path.join(dir, "config.yaml");

  test("missing write and run permissions: exit 1, each field named with the env var to set", async () => {
    fs.writeFileSync(
      config,
      [
        `listen: ["127.0.0.1:${await freePort()}"]`,
        "routes: [{ name: acme, match: { acme: exact }, target: { acme: builtin } }]",
        'default: { upstream: "127.0.0.1:8443" }',
        `admin: { listen: "127.0.0.1:${await freePort()}", token: "0123456789abcdef0123" }`,
        `acme: { directory: "https://127.0.0.1:9/dir", storage: "${storage}" }`,
        "certificates:",
        `  - { name: web, identifiers: [example.com], out: "${out}", deploy: "true" }`,
        "",
      ].join("\n"),
    );
    const r = await runBin(["--config", config], {});
    assert.equal(r.code, 1, r.out);
    const want = `ALPNMUX_DENO_ALLOW_WRITE=${storage},${out}`;
    assert.match(
      r.out,
      new RegExp(
        `acme\\.storage: Deno has no write permission for ${storage}; start alpnmux-deno with ${want}\\n`,
      ),
    );
    assert.match(
      r.out,
      new RegExp(
        `certificates\\[0\\]\\.out: Deno has no write permission for ${out}; start alpnmux-deno with ${want}\\n`,
      ),
    );
    assert.match(
      r.out,
      /certificates\[0\]\.deploy: Deno has no permission to run sh \(for deploy\); start alpnmux-deno with ALPNMUX_DENO_ALLOW_RUN=sh\n/,
    );
    assert.equal(fs.existsSync(storage), false, "nothing was written");

    // Only the deploy shell missing: one line, and an existing ALPNMUX_DENO_ALLOW_WRITE is honoured.
    const partial = await runBin(["--config", config], { ALPNMUX_DENO_ALLOW_WRITE: `${storage},${out}` });
    assert.equal(partial.code, 1, partial.out);
    assert.deepEqual(partial.out.trim().split("\n"), [
      "alpnmux: certificates[0].deploy: Deno has no permission to run sh (for deploy); start alpnmux-deno with ALPNMUX_DENO_ALLOW_RUN=sh",
    ]);
  });

  test("with ALPNMUX_DENO_ALLOW_WRITE and ALPNMUX_DENO_ALLOW_RUN=sh it starts", async () => {
    const r = await runBin(
      ["--config", config, "--log-format", "json"],
      { ALPNMUX_DENO_ALLOW_WRITE: `${storage},${out}`, ALPNMUX_DENO_ALLOW_RUN: "sh" },
      /"alpnmux \\"0\.1\.0\\" started/,
    );
    assert.match(r.out, /managing 1 certificates?/);
    assert.match(r.out, /started on/);
    assert.doesNotMatch(r.out, /no write permission|no permission to run/);
  });
});

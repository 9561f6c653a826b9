/**
 * @module cli.test — the `alpnmux` command as users run it: `hello` on every golden capture
 * (compared with the tshark-derived sidecars), stdin and exit codes, `check` on good and bad
 * files, bad flags, an unprivileged bind of :443, and graceful stop on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, describe, test } from "node:test";
import { startCaptureBackend } from "../_harness/backends.ts";
import { freePort } from "../_harness/ports.ts";
import { repoRoot, workspace } from "../_harness/proc.ts";
import { routerCommand, spawnRouter } from "../_harness/router.ts";

const ws = workspace("cli", after);
const hellos = path.join(repoRoot, "packages/core/src/_testdata/hellos");

function cli(args: string[], input?: Buffer | string, extra: { uid?: number; gid?: number } = {}) {
  const [cmd, ...pre] = routerCommand();
  const r = spawnSync(cmd as string, [...pre, ...args], {
    input,
    encoding: "utf8",
    timeout: 20_000,
    ...extra,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("alpnmux hello", () => {
  const names = fs.readdirSync(hellos).filter((f) => f.endsWith(".bin"));
  test("reports every golden capture as its tshark sidecar says", () => {
    assert.ok(names.length >= 20);
    for (const name of names) {
      const want = JSON.parse(fs.readFileSync(path.join(hellos, name.replace(/\.bin$/, ".json")), "utf8"));
      const r = cli(["hello", path.join(hellos, name)]);
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
      const got = JSON.parse(r.stdout);
      assert.deepEqual(
        [got.sni, got.alpn, got.ech, got.bytes, got.records],
        [want.sni, want.alpn, want.ech, want.bytes, want.records],
        name,
      );
      const versions = (want.supportedVersions ?? [want.legacyVersion]).map(
        (v: number) => ({ 772: "TLSv1.3", 771: "TLSv1.2", 770: "TLSv1.1", 769: "TLSv1.0" })[v],
      );
      assert.deepEqual(got.versions, versions, name);
    }
  });

  test("reads stdin, ignores bytes after the hello, and exits 1 with a code on errors", () => {
    const bin = fs.readFileSync(path.join(hellos, "go-pebble-va.bin"));
    const ok = cli(["hello", "-"], Buffer.concat([bin, Buffer.from([20, 3, 3, 0, 1, 1])]));
    assert.equal(ok.code, 0);
    assert.deepEqual(JSON.parse(ok.stdout).alpn, ["acme-tls/1"]);
    const bad = cli(["hello"], Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    assert.equal(bad.code, 1);
    assert.deepEqual(Object.keys(JSON.parse(bad.stdout)), ["error", "offset", "message"]);
    const cut = cli(["hello"], bin.subarray(0, 100));
    assert.equal(cut.code, 1);
    assert.equal(JSON.parse(cut.stdout).error, "truncated");
    const dup = Buffer.from(bin);
    dup[5] = 2; // a ServerHello
    assert.equal(JSON.parse(cli(["hello"], dup).stdout).error, "not-client-hello");
  });
});

describe("alpnmux check and flags", () => {
  test("check accepts a good file and names the path and reason in a bad one", () => {
    const good = path.join(ws.dir, "good.yaml");
    fs.writeFileSync(
      good,
      'listen: ["127.0.0.1:8443"]\ndefault: { upstream: "127.0.0.1:9443", proxy: v2 }\n',
    );
    const r = cli(["check", good]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok/);
    const bad = path.join(ws.dir, "bad.yaml");
    fs.writeFileSync(
      bad,
      [
        "routes:",
        "  - { match: { sni: [a.example] }, target: { upstream: '127.0.0.1:1' } }",
        "  - { match: { sni: [b.example] }, target: { upstream: '127.0.0.1:2' } }",
        "  - { match: { acme: exact }, target: { upstream: '10.0.0.5' } }",
        "default: reject",
      ].join("\n"),
    );
    const b = cli(["check", bad]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /routes\[2\]\.target\.upstream: "10\.0\.0\.5" has no port/);
  });

  test("a bad flag value starts nothing and names the flag (exit 2, like an unknown flag)", () => {
    const r = cli(["--listen", "127.0.0.1:1", "--default", "127.0.0.1", "--hello-timeout", "soon"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^alpnmux: --default: "127\.0\.0\.1" has no port$/m);
    assert.match(r.stderr, /^alpnmux: --hello-timeout: "soon" is not a duration/m);
    assert.doesNotMatch(r.stderr, /embedded default config/);
    const t = cli(["--listen", "127.0.0.1:1", "--acme", "builtin", "--admin-token", "too-short"]);
    assert.equal(t.code, 2);
    assert.equal(t.stderr.trim(), "alpnmux: --admin-token: must be at least 16 characters");
    const u = cli(["--lisen", "x"]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown flag "--lisen" \(did you mean --listen\?\)/);
  });

  test("a problem of the config file exits 1 with the file's path and reason; a flag's, 2 with the flag", () => {
    const file = path.join(ws.dir, "bad-route.yaml");
    fs.writeFileSync(
      file,
      "routes:\n  - { match: { sni: [a.example] }, target: { upstream: '10.0.0.5' } }\ndefault: reject\n",
    );
    const f = cli(["--config", file, "--listen", "127.0.0.1:1"]);
    assert.equal(f.code, 1);
    assert.match(
      f.stderr,
      /^Invalid .*bad-route\.yaml:\n {2}routes\[0\]\.target\.upstream: "10\.0\.0\.5" has no port$/m,
    );
    const both = cli(["--config", file, "--listen", "127.0.0.1:1", "--acme", "nope"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^alpnmux: --acme: "nope" has no port$/m);
    // The file's route keeps its own index although --acme put a route before it.
    assert.match(both.stderr, /^ {2}routes\[0\]\.target\.upstream: "10\.0\.0\.5" has no port$/m);
  });

  test("binding :443 without privilege fails with advice", () => {
    // Ports below ip_unprivileged_port_start need CAP_NET_BIND_SERVICE; if :443 is not below
    // it, any process may bind it and there is no refusal to see.
    const start = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"));
    assert.ok(
      start > 443,
      `net.ipv4.ip_unprivileged_port_start is ${start}, so binding :443 needs no privilege here;` +
        " run the tests where it is above 443 (the kernel default is 1024)",
    );
    // Root keeps its uid (so it can still read a checkout in a 0700 directory) but runs the CLI
    // without CAP_NET_BIND_SERVICE: not inheritable (so not ambient either) and not in the bounding
    // set, so exec cannot grant it back. Anyone else lacks the capability already.
    const drop = ["setpriv", "--inh-caps=-all", "--bounding-set=-net_bind_service", "--"];
    const argv = [
      ...(process.getuid?.() === 0 ? drop : []),
      ...routerCommand(),
      ...["--listen", "127.0.0.1:443", "--default", "127.0.0.1:8443"],
    ];
    const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /CAP_NET_BIND_SERVICE/);
  });
});

describe("graceful stop", () => {
  test("SIGTERM stops accepting, lets a spliced connection finish, then exits 0", {
    timeout: 30_000,
  }, async () => {
    const backend = await startCaptureBackend(ws, { endOnEnd: true });
    const port = await freePort();
    const router = await spawnRouter(ws, [
      "--listen",
      `127.0.0.1:${port}`,
      "--default",
      `127.0.0.1:${backend.port}`,
    ]);
    const hello = fs.readFileSync(path.join(hellos, "curl-http2.bin"));
    const client = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise<void>((r) => client.once("connect", () => r()));
    client.write(hello);
    const conn = await backend.connection(0);
    await backend.waitForBytes(0, hello.length);
    router.proc.child.kill("SIGTERM");
    await router.waitForLog((l) => String(l["message"] ?? "").includes("draining"), 5000);
    // New connections are refused while the old one lives on.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.once("error", () => resolve(true));
      s.once("connect", () => {
        s.destroy();
        resolve(false);
      });
    });
    assert.equal(refused, true, "no new connections after SIGTERM");
    client.write("still here");
    await backend.waitForBytes(0, hello.length + 10);
    conn.socket.write("reply");
    const got = await new Promise<string>((r) => client.once("data", (d) => r(d.toString())));
    assert.equal(got, "reply");
    assert.equal(router.proc.exitStatus(), undefined, "still running while a connection is open");
    client.end();
    const status = await router.proc.exited;
    assert.equal(status.code, 0);
  });
});

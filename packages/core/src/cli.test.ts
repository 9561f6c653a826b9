import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Hono } from "hono";
import { FakeUnix } from "../testing/fake-unix.ts";
import { buildHello } from "../testing/hello-builder.ts";
import { type CliHost, runCli } from "./cli.ts";
import { ListenError } from "./listen-error.ts";
import type { Router } from "./router.ts";
import { sniffHello } from "./sniff.ts";

function helloOf(sni: string) {
  const r = sniffHello(buildHello({ sni }));
  if (r.kind !== "hello") throw new Error(r.kind);
  return r.hello;
}

function fakeHost(
  files: Record<string, string | Uint8Array> = {},
  stdin = new Uint8Array(0),
  env: Record<string, string> = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const logs: string[] = [];
  let stop: ((s: string) => void) | null = null;
  let reload: (() => void) | null = null;
  const served: { listen: unknown[]; stopped: boolean; router: Router }[] = [];
  const host: CliHost & { serveThrows?: unknown } = {
    runtime: "test",
    env,
    readFile: async (p) => {
      const f = files[p];
      if (f === undefined) throw new Error(`ENOENT ${p}`);
      return typeof f === "string" ? new TextEncoder().encode(f) : f;
    },
    readFileSync: (p) => String(files[p] ?? ""),
    readStdin: async () => stdin,
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    writeLog: (l) => logs.push(l),
    serve(config, router) {
      if (host.serveThrows) throw host.serveThrows;
      const entry = { listen: config.listen, stopped: false, router };
      served.push(entry);
      return {
        close: async () => {},
        stop: async () => {
          entry.stopped = true;
        },
      };
    },
    serveAdmin: (settings) => ({ port: settings.listen.port, stop: () => {} }),
    onStopSignal: (h) => {
      stop = h;
    },
    onReloadSignal: (h) => {
      reload = h;
    },
  };
  return { host, out, err, logs, served, files, signal: (s: string) => stop?.(s), reload: () => reload?.() };
}

describe("runCli()", () => {
  test("--help and --version", async () => {
    const f = fakeHost();
    assert.equal(await runCli(["--help"], f.host), 0);
    assert.match(f.out[0] ?? "", /Usage:/);
    assert.equal(await runCli(["--version"], f.host), 0);
    assert.match(f.out[1] ?? "", /^alpnmux \d+\.\d+\.\d+ \(test\)$/);
  });

  test("usage errors exit 2", async () => {
    const f = fakeHost();
    assert.equal(await runCli(["--nope"], f.host), 2);
    assert.match(f.err[0] ?? "", /^alpnmux: unknown flag "--nope"\n\nalpnmux: TLS :443 router/);
  });

  test("a flag value the config refuses exits 2 naming the flag, and starts nothing", async () => {
    const f = fakeHost();
    assert.equal(await runCli(["--admin-token", "short", "--acme", "builtin"], f.host), 2);
    assert.equal(f.err[0], "alpnmux: --admin-token: must be at least 16 characters");
    assert.equal(
      await runCli(["--admin-token", "sixteen chars, but spaces", "--acme", "builtin"], f.host),
      2,
    );
    assert.match(f.err[1] ?? "", /^alpnmux: --admin-token: must use only A-Z/);
    assert.equal(
      await runCli(["--listen", "bogus", "--default", "10.0.0.5", "--hello-timeout", "soon"], f.host),
      2,
    );
    assert.equal(
      f.err[2],
      [
        'alpnmux: --listen: "bogus" has no port',
        'alpnmux: --hello-timeout: "soon" is not a duration (like "10s", "500ms", "2m")',
        'alpnmux: --default: "10.0.0.5" has no port',
      ].join("\n"),
    );
    assert.equal(f.served.length, 0);
  });

  test("flag problems and the file's own are reported together, each with its source", async () => {
    const f = fakeHost({
      "c.yaml":
        'routes:\n  - { match: { sni: [a.example] }, target: { upstream: "10.0.0.5" } }\ndefault: reject\n',
    });
    assert.equal(await runCli(["--config", "c.yaml", "--acme", "nope"], f.host), 2);
    assert.equal(
      f.err[0],
      [
        'alpnmux: --acme: "nope" has no port',
        "Invalid c.yaml:",
        // The file's first route: --acme put its own route in front of it.
        '  routes[0].target.upstream: "10.0.0.5" has no port',
      ].join("\n"),
    );
    f.files["c.yaml"] = "default: { upstream: 10.0.0.5 }\n";
    assert.equal(
      await runCli(["--config", "c.yaml", "--acme", "127.0.0.1:1"], f.host),
      1,
      "the file alone: 1",
    );
    assert.match(f.err[1] ?? "", /^Invalid c\.yaml:\n {2}default\.upstream: "10\.0\.0\.5" has no port$/);
  });

  test("an admin token from the environment or a file follows the same rule, named by its source", async () => {
    const args = ["--listen", "127.0.0.1:4443", "--acme", "builtin", "--default", "127.0.0.1:1"];
    let f = fakeHost({}, undefined, { ALPNMUX_ADMIN_TOKEN: "short" });
    assert.equal(await runCli(args, f.host), 1);
    assert.match(f.err[0] ?? "", /ALPNMUX_ADMIN_TOKEN: must be at least 16 characters/);
    f = fakeHost({ "t.txt": "token with spaces in it\n" });
    assert.equal(await runCli([...args, "--admin-token-file", "t.txt"], f.host), 1);
    assert.match(f.err[0] ?? "", /admin\.tokenFile: must use only A-Z/);
    assert.equal(f.served.length, 0);
  });

  test("hello reads stdin or a file and prints one JSON object", async () => {
    const f = fakeHost(
      { "h.bin": buildHello({ sni: "x.example", alpn: ["acme-tls/1"] }) },
      new Uint8Array([0x47]),
    );
    assert.equal(await runCli(["hello", "h.bin"], f.host), 0);
    assert.equal(JSON.parse(f.out[0] ?? "").sni, "x.example");
    assert.equal(await runCli(["hello"], f.host), 1);
    assert.equal(JSON.parse(f.out[1] ?? "").error, "not-tls");
    assert.equal(await runCli(["hello", "missing.bin"], f.host), 2);
  });

  test("check names the bad field", async () => {
    const f = fakeHost({ "c.yaml": "default: { upstream: 10.0.0.5 }\n" });
    assert.equal(await runCli(["check", "c.yaml"], f.host), 1);
    assert.match(f.err[0] ?? "", /default\.upstream: "10\.0\.0\.5" has no port/);
  });

  test("run serves, logs, and drains on a stop signal", async () => {
    const f = fakeHost();
    const done = runCli(
      ["--listen", "127.0.0.1:4443", "--default", "127.0.0.1:8443", "--log-level", "info"],
      f.host,
    );
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(f.served.length, 1);
    assert.ok(f.logs.some((l) => l.includes("started on")));
    f.signal("SIGTERM");
    assert.equal(await done, 0);
    assert.equal(f.served[0]?.stopped, true);
  });

  test("SIGHUP reloads the file: a good file swaps the routes, a bad one is refused and the old stays", async () => {
    const file = (port: number) => `listen: ["127.0.0.1:4443"]\ndefault: { upstream: "127.0.0.1:${port}" }\n`;
    const f = fakeHost({ "r.yaml": file(1111) });
    const done = runCli(["--config", "r.yaml"], f.host);
    const tick = () => new Promise((r) => setTimeout(r, 20));
    await tick();
    const router = f.served[0]?.router as Router;
    const upstream = () => {
      const d = router.table.decideNotTls();
      return router.config.default !== "reject" ? router.config.default.upstream.port : d.action;
    };
    assert.equal(upstream(), 1111);
    f.files["r.yaml"] = file(2222);
    f.reload();
    await tick();
    assert.equal(upstream(), 2222);
    f.files["r.yaml"] = "default: { upstream: nope }\n";
    f.reload();
    await tick();
    assert.equal(upstream(), 2222, "a bad file leaves the running config");
    assert.ok(f.logs.some((l) => l.includes("reload refused") && l.includes("default.upstream")));
    assert.match(router.metrics.registry.render(), /alpnmux_config_reloads_total\{result="error"\} 1/);
    f.files["r.yaml"] = file(3333).replace("4443", "5555");
    f.reload();
    await tick();
    assert.equal(upstream(), 3333);
    assert.ok(f.logs.some((l) => l.includes("need a restart")));
    f.signal("SIGINT");
    assert.equal(await done, 0);
  });

  test("SIGHUP with a bad SNI pattern is refused with its path; the old routes still route", async () => {
    const file = (sni: string) =>
      `listen: ["127.0.0.1:4443"]\nroutes:\n  - { name: web, match: { sni: ["${sni}"] }, target: { upstream: "127.0.0.1:1111" } }\ndefault: reject\n`;
    const f = fakeHost({ "r.yaml": file("*.example") });
    let unhandled: unknown;
    const onUnhandled = (e: unknown) => {
      unhandled = e;
    };
    process.on("unhandledRejection", onUnhandled);
    try {
      const done = runCli(["--config", "r.yaml"], f.host);
      const tick = () => new Promise((r) => setTimeout(r, 20));
      await tick();
      const router = f.served[0]?.router as Router;
      const route = () => router.table.decide(helloOf("www.example")).action;
      assert.equal(route(), "forward");
      f.files["r.yaml"] = file("a.*.example");
      f.reload();
      await tick();
      const refused = f.logs.find((l) => l.includes("reload refused"));
      assert.ok(refused, f.logs.join(""));
      assert.match(refused, /routes\[0\]\.match\.sni\[0\]/);
      assert.match(refused, /a\.\*\.example/);
      assert.equal(route(), "forward", "the old table still routes");
      assert.match(router.metrics.registry.render(), /alpnmux_config_reloads_total\{result="error"\} 1/);

      // Whatever step throws, a reload is refused, never an uncaught error: here setConfig itself.
      f.files["r.yaml"] = file("b.example");
      const setConfig = router.setConfig;
      router.setConfig = () => {
        throw new RangeError("refused by the router");
      };
      f.reload();
      await tick();
      router.setConfig = setConfig;
      assert.ok(f.logs.some((l) => l.includes("reload refused") && l.includes("refused by the router")));
      assert.equal(route(), "forward");

      f.reload();
      await tick();
      assert.equal(route(), "reject", "a good file afterwards is applied");
      f.signal("SIGTERM");
      assert.equal(await done, 0);
      assert.equal(unhandled, undefined);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  test("run reports a bind failure with advice and exits 1", async () => {
    const f = fakeHost();
    f.host.serveThrows = ListenError.from(new Error("EACCES"), { host: "::", port: 443 });
    assert.equal(await runCli(["--default", "127.0.0.1:8443"], f.host), 1);
    assert.match(f.err[0] ?? "", /CAP_NET_BIND_SERVICE/);
  });

  test("run refuses a non-loopback admin API without a token", async () => {
    const f = fakeHost();
    const code = await runCli(
      [
        "--listen",
        "127.0.0.1:4443",
        "--acme",
        "builtin",
        "--default",
        "127.0.0.1:1",
        "--admin",
        "0.0.0.0:9180",
      ],
      f.host,
    );
    assert.equal(code, 1);
    assert.match(f.err[0] ?? "", /admin\.token/);
    assert.equal(f.served.length, 0, "nothing started");
  });

  test("a bad config file starts nothing", async () => {
    const f = fakeHost({ "bad.yaml": "routes: [\n" });
    assert.equal(await runCli(["--config", "bad.yaml"], f.host), 1);
    assert.equal(f.served.length, 0);
  });
});

describe("run with challenges.ualpnSocket", () => {
  const DIGEST = "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y";
  const TOKEN = "cli-test-token-0123456789";
  const config = (socket: unknown) =>
    JSON.stringify({
      listen: ["127.0.0.1:4443"],
      routes: [{ name: "acme", match: { acme: "exact" }, target: { acme: "builtin" } }],
      default: "reject",
      admin: { token: TOKEN },
      challenges: { ualpnSocket: socket },
    });
  const start = (socket: unknown, unix: FakeUnix | undefined) => {
    const f = fakeHost({ "u.yaml": config(socket) });
    const apps: Hono[] = [];
    const host: CliHost = {
      ...f.host,
      serveAdmin: (settings, app) => {
        apps.push(app);
        return { port: settings.listen.port, stop: () => {} };
      },
      ...(unix ? { unix } : {}),
    };
    return { f, apps, done: runCli(["--config", "u.yaml"], host) };
  };

  test("serves the socket: an auth there is a challenge the admin API lists; stop removes the file", async () => {
    const unix = new FakeUnix();
    const { f, apps, done } = start({ path: "/run/ualpn.sock", mode: "0660", group: 5 }, unix);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(unix.files.get("/run/ualpn.sock"), { kind: "socket", mode: 0o660, uid: 0, gid: 5 });
    assert.ok(f.logs.some((l) => l.includes("ualpn control socket on")));
    const c = unix.connect("/run/ualpn.sock");
    c.send(`auth a.example.test ${DIGEST}\n`);
    assert.equal(await c.waitText((t) => t.endsWith("\n")), "OK\n");
    const res = await apps[0]?.request("/v1/challenges", { headers: { authorization: `Bearer ${TOKEN}` } });
    const list = (await res?.json()) as { challenges: { identifier: string }[] };
    assert.deepEqual(
      list.challenges.map((x) => x.identifier),
      ["a.example.test"],
    );
    f.signal("SIGTERM");
    assert.equal(await done, 0);
    assert.equal(unix.files.has("/run/ualpn.sock"), false);
    assert.equal(c.closed, true, "open control connections are closed at stop");
  });

  test("a socket another process serves stops the start: exit 1, the listeners stopped", async () => {
    const unix = new FakeUnix();
    unix.files.set("/run/ualpn.sock", { kind: "socket", mode: 0o600, uid: 0, gid: 0 });
    unix.foreign.add("/run/ualpn.sock");
    const { f, done } = start("/run/ualpn.sock", unix);
    assert.equal(await done, 1);
    assert.equal(
      f.err[0],
      "alpnmux: challenges.ualpnSocket: Cannot serve unix socket /run/ualpn.sock: another process listens on it (another alpnmux or ualpn?)",
    );
    assert.equal(f.served[0]?.stopped, true);
  });

  test("a runtime without unix sockets refuses the config", async () => {
    const { f, done } = start("/run/ualpn.sock", undefined);
    assert.equal(await done, 1);
    assert.equal(f.err[0], "alpnmux: challenges.ualpnSocket: this runtime cannot serve unix sockets");
  });
});

describe("ListenError.from()", () => {
  test("maps Bun and Deno errors", () => {
    const deno = Object.assign(new Error("Address in use"), { name: "AddrInUse" });
    assert.equal(ListenError.from(deno, { host: "::", port: 8443 }).code, "in-use");
    const perm = Object.assign(new Error("Permission denied"), { name: "PermissionDenied" });
    assert.equal(ListenError.from(perm, { host: "::", port: 443 }).code, "permission");
    assert.equal(ListenError.from(new Error("boom"), { host: "::", port: 8443 }).code, "other");
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryCertHost } from "../../testing/fake-certs.ts";
import { type CliHost, runCli } from "../cli.ts";

const TOKEN = "test-token-0123456789abcdef";

function yaml(certs: string[], directory = "https://ca.test/dir") {
  return `listen: ["127.0.0.1:4443"]
default: { upstream: "127.0.0.1:8443" }
admin: { listen: "127.0.0.1:9180", token: "${TOKEN}" }
acme: { directory: "${directory}", storage: "/s" }
certificates:
${certs.map((n) => `  - { name: ${n}, identifiers: [${n}.example.com], out: /o/${n} }`).join("\n")}
`;
}

function host(files: Record<string, string>, certs?: MemoryCertHost) {
  const err: string[] = [];
  const logs: string[] = [];
  let stop: ((s: string) => void) | null = null;
  let reload: (() => void) | null = null;
  const h: CliHost = {
    runtime: "test",
    env: {},
    readFile: async (p) => {
      const f = files[p];
      if (f === undefined) throw new Error(`ENOENT ${p}`);
      return new TextEncoder().encode(f);
    },
    readFileSync: (p) => files[p] ?? "",
    readStdin: async () => new Uint8Array(),
    out: () => {},
    err: (s) => err.push(s),
    writeLog: (l) => logs.push(l),
    serve: () => ({ close: async () => {}, stop: async () => {} }),
    serveAdmin: (settings) => ({ port: settings.listen.port, stop: () => {} }),
    onStopSignal: (fn) => {
      stop = fn;
    },
    onReloadSignal: (fn) => {
      reload = fn;
    },
    ...(certs ? { certs } : {}),
  };
  return { h, err, logs, files, stop: (s: string) => stop?.(s), reload: () => reload?.() };
}

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe("alpnmux run with certificates", () => {
  test("a runtime without CertHost refuses the config: exit 1 naming certificates", async () => {
    const f = host({ "c.yaml": yaml(["web"]) });
    assert.equal(await runCli(["--config", "c.yaml", "--acme", "builtin"], f.h), 1);
    assert.match(f.err.join("\n"), /certificates: needs HTTPS to the CA, files and a shell/);
  });

  test("without the built-in responder the config is refused: exit 1", async () => {
    const f = host({ "c.yaml": yaml(["web"]) }, new MemoryCertHost());
    assert.equal(await runCli(["--config", "c.yaml"], f.h), 1);
    assert.match(f.err.join("\n"), /certificates: needs the built-in responder/);
  });

  test("starts the manager after the listeners; SIGHUP applies certificates, acme needs a restart; SIGTERM stops it", async () => {
    const certs = new MemoryCertHost();
    const f = host({ "c.yaml": yaml(["web"]) }, certs);
    const done = runCli(["--config", "c.yaml", "--acme", "builtin", "--log-format", "json"], f.h);
    await tick(200);
    // The CA is unreachable here: the order fails and is logged, the process runs on.
    assert.ok(f.logs.some((l) => l.includes("managing 1 certificates")));
    assert.ok(
      f.logs.some((l) => l.includes('"level":"ERROR"') && l.includes('certificate \\"web\\" failed')),
      f.logs.join(""),
    );
    assert.ok(
      [...certs.files.keys()].some((p) => p.startsWith("/s/accounts/") && p.endsWith("account-key.pem")),
    );
    f.files["c.yaml"] = yaml(["web", "mail"]);
    f.reload();
    await tick(200);
    assert.ok(
      f.logs.some((l) => l.includes("reload: certificates added") && l.includes("mail")),
      f.logs.join(""),
    );
    f.files["c.yaml"] = yaml(["web"], "https://other-ca.test/dir");
    f.reload();
    await tick(100);
    assert.ok(f.logs.some((l) => l.includes("need a restart") && l.includes("acme")));
    f.stop("SIGTERM");
    assert.equal(await done, 0);
  });
  test("the runtime's missing permissions stop the start (nothing written) and refuse a reload", async () => {
    const certs = new MemoryCertHost();
    // A sandbox that lets the manager write only /s and /o/web (as Deno's --allow-write would).
    const allowed = ["/s", "/o/web"];
    const sandboxed = Object.assign(certs, {
      permissionProblems: (config: { certificates: readonly { out: string }[] }) =>
        config.certificates
          .map((c, i) =>
            allowed.includes(c.out) ? null : `certificates[${i}].out: no write permission for ${c.out}`,
          )
          .filter((l) => l !== null),
    });
    const denied = host({ "c.yaml": yaml(["web", "mail"]) }, sandboxed);
    assert.equal(await runCli(["--config", "c.yaml", "--acme", "builtin"], denied.h), 1);
    assert.deepEqual(denied.err, ["alpnmux: certificates[1].out: no write permission for /o/mail"]);
    assert.equal(certs.files.size, 0, "nothing was written");

    const f = host({ "c.yaml": yaml(["web"]) }, sandboxed);
    const done = runCli(["--config", "c.yaml", "--acme", "builtin", "--log-format", "json"], f.h);
    await tick(200);
    assert.ok(
      f.logs.some((l) => l.includes("managing 1 certificates")),
      f.logs.join(""),
    );
    f.files["c.yaml"] = yaml(["web", "mail"]);
    f.reload();
    await tick(100);
    assert.ok(
      f.logs.some(
        (l) => l.includes("reload refused") && l.includes("certificates[1].out: no write permission"),
      ),
      f.logs.join(""),
    );
    assert.ok(!f.logs.some((l) => l.includes("reload: certificates added")));
    f.stop("SIGTERM");
    assert.equal(await done, 0);
  });
});

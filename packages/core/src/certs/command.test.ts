import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fakeSource, statusOf } from "../../testing/fake-certs.ts";
import { createAdminApp } from "../admin-api.ts";
import { MemoryChallengeStore } from "../challenge-store.ts";
import { runCli } from "../cli.ts";
import { parseConfig } from "../config.ts";
import { createRouter } from "../router.ts";
import { formatCertificateTable, parseCertsArgs, runCertsCommand } from "./command.ts";
import type { CertificateSource, CertificateStatus } from "./status.ts";

const TOKEN = "test-token-0123456789abcdef";
const ENV = { ALPNMUX_ADMIN: "http://127.0.0.1:9180", ALPNMUX_ADMIN_TOKEN: TOKEN };

function appFor(source: CertificateSource) {
  const router = createRouter({ config: parseConfig({ default: "reject" }) });
  return createAdminApp({
    router,
    challenges: new MemoryChallengeStore(),
    token: TOKEN,
    certificates: source,
  });
}

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

const FAILED: CertificateStatus = statusOf("mail", {
  identifiers: ["mail.example.com"],
  state: "failed",
  certificate: null,
  nextRenewal: { at: "2026-01-01T00:01:00.000Z", reason: "retry-backoff" },
  lastResult: {
    at: "2026-01-01T00:00:00.000Z",
    outcome: "failed",
    message: "authorization for mail.example.com failed: connection refused",
    problems: [
      {
        type: "urn:ietf:params:acme:error:connection",
        detail: "connection refused",
        identifier: { type: "dns", value: "mail.example.com" },
      },
    ],
  },
});

describe("alpnmux certs", () => {
  test("list prints a table: name, state, notAfter, serial, next renewal with its reason, last result", async () => {
    const { out, io: o } = io();
    const app = appFor(fakeSource([statusOf("web"), FAILED]));
    const code = await runCertsCommand(["list"], ENV, o, { fetch: (r) => app.fetch(r) });
    assert.equal(code, 0);
    const lines = (out[0] ?? "").split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+STATE\s+NOT AFTER\s+SERIAL\s+NEXT RENEWAL\s+LAST RESULT$/);
    assert.match(
      lines[1] ?? "",
      /^web\s+valid\s+2026-04-01T00:00:00\.000Z\s+fa1e\s+2026-03-02T00:00:00\.000Z \(lifetime\)\s+issued .*deploy exit 0$/,
    );
    assert.match(
      lines[2] ?? "",
      /^mail\s+failed\s+-\s+-\s+2026-01-01T00:01:00\.000Z \(retry-backoff\)\s+failed .*mail\.example\.com failed: connection refused$/,
    );
  });

  test("list --json prints the statuses as JSON", async () => {
    const { out, io: o } = io();
    const app = appFor(fakeSource([statusOf("web")]));
    assert.equal(await runCertsCommand(["list", "--json"], ENV, o, { fetch: (r) => app.fetch(r) }), 0);
    const j = JSON.parse(out.join("\n")) as { certificates: CertificateStatus[] };
    assert.equal(j.certificates[0]?.certificate?.serial, "fa1e");
  });

  test("renew waits for the outcome: 0 when issued", async () => {
    const list = [statusOf("web")];
    const source = fakeSource(list);
    const app = appFor(source);
    const { out, io: o } = io();
    let polls = 0;
    const code = await runCertsCommand(["renew", "web"], ENV, o, {
      fetch: (r) => app.fetch(r),
      sleep: async () => {
        if (++polls === 2) {
          list[0] = statusOf("web", {
            certificate: {
              ...(statusOf("web").certificate as NonNullable<CertificateStatus["certificate"]>),
              serial: "beef",
            },
            lastResult: { at: "2026-02-01T00:00:00.000Z", outcome: "issued", deployExitCode: 0 },
          });
        }
      },
    });
    assert.equal(code, 0);
    assert.equal(polls, 2, "it polled until the result changed");
    assert.match(out.join("\n"), /web: issued, serial beef/);
  });

  test("renew exits 1 with the CA's problems when the order fails", async () => {
    const list = [statusOf("mail", { ...FAILED, lastResult: null, state: "pending" })];
    const app = appFor(fakeSource(list));
    const { err, io: o } = io();
    const code = await runCertsCommand(["renew", "mail"], ENV, o, {
      fetch: (r) => app.fetch(r),
      sleep: async () => {
        list[0] = FAILED;
      },
    });
    assert.equal(code, 1);
    assert.match(err.join("\n"), /mail failed: authorization for mail\.example\.com failed/);
    assert.match(
      err.join("\n"),
      /mail\.example\.com: urn:ietf:params:acme:error:connection: connection refused/,
    );
  });

  test("renew exits 1 when still running at --timeout, and for an unknown name", async () => {
    const app = appFor(fakeSource([statusOf("web")]));
    let t = 0;
    const a = io();
    const code = await runCertsCommand(["renew", "web", "--timeout", "5s"], ENV, a.io, {
      fetch: (r) => app.fetch(r),
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    });
    assert.equal(code, 1);
    assert.match(a.err.join("\n"), /still renewing after 5 s/);
    const b = io();
    assert.equal(await runCertsCommand(["renew", "nope"], ENV, b.io, { fetch: (r) => app.fetch(r) }), 1);
    assert.match(b.err.join("\n"), /No certificate is configured with name "nope"/);
  });

  test("usage errors exit 2: no token, no NAME, unknown subcommand, bad --timeout", async () => {
    for (const [args, env, why] of [
      [["list"], {}, /no admin token/],
      [["renew"], ENV, /renew takes one NAME/],
      [["show"], ENV, /unknown command "show"/],
      [["renew", "web", "--timeout", "soon"], ENV, /--timeout: "soon"/],
      [["list", "--json=yes"], ENV, /--json takes no value/],
    ] as const) {
      const x = io();
      assert.equal(await runCertsCommand(args, env, x.io), 2, args.join(" "));
      assert.match(x.err[0] ?? "", why);
    }
    assert.equal(parseCertsArgs(["list", "--json"]).json, true);
    assert.equal(formatCertificateTable([]).split("\n").length, 1);
  });

  test("runCli dispatches `certs` with ALPNMUX_ADMIN and ALPNMUX_ADMIN_TOKEN from the environment", async () => {
    const lines: string[] = [];
    const code = await runCli(["certs", "list"], {
      runtime: "test",
      env: {},
      readFile: async () => new Uint8Array(),
      readFileSync: () => "",
      readStdin: async () => new Uint8Array(),
      out: (s) => lines.push(s),
      err: (s) => lines.push(s),
      writeLog: () => {},
      serve: () => {
        throw new Error("unused");
      },
      serveAdmin: () => {
        throw new Error("unused");
      },
      onStopSignal: () => {},
      onReloadSignal: () => {},
    });
    assert.equal(code, 2);
    assert.match(lines.join("\n"), /alpnmux certs: no admin token/);
  });
});

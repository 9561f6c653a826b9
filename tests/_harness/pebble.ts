/**
 * @module pebble — a private Pebble 2.4 ACME server plus pebble-challtestsrv as its DNS (FACTS.md).
 *
 * Every port is free-allocated, so several tests can run Pebble at once. Pebble validates
 * tls-alpn-01 by dialling `127.0.0.1:<tlsPort>`: put lego or the router under test there.
 *
 * @example
 * const pebble = await startPebble(ws)
 * await runLego(ws, { pebble, domains: ['a.example.test'], tlsAddress: `127.0.0.1:${pebble.tlsPort}` })
 */
import fs from "node:fs";
import path from "node:path";
import { createCA, issueCert } from "./certs.ts";
import { httpsRequest } from "./clients.ts";
import { freePorts, waitForPort } from "./ports.ts";
import { type Proc, spawnProc, type Workspace } from "./proc.ts";

export interface Pebble {
  /** `https://127.0.0.1:<port>/dir` */
  readonly directoryUrl: string;
  /** PEM file of the CA that signed Pebble's HTTPS (ACME + management) listener. */
  readonly caPem: string;
  /** Where Pebble connects for tls-alpn-01 validation (on 127.0.0.1). */
  readonly tlsPort: number;
  /** Where Pebble connects for http-01 validation (unused by these tests). */
  readonly httpPort: number;
  /** `https://127.0.0.1:<mgmt>/roots/0`: the (per-start) root that signs issued certificates. */
  readonly rootsUrl: string;
  readonly dnsPort: number;
  /** `http://127.0.0.1:<port>`: pebble-challtestsrv's management API (its DNS answers). */
  readonly challtestsrvUrl: string;
  readonly pebble: Proc;
  readonly challtestsrv: Proc;
  /** Fetches the issuing root from `rootsUrl` as PEM text. */
  issuingRoot(): Promise<string>;
  /**
   * Makes Pebble's DNS answer `host` with `addresses` (A records) instead of 127.0.0.1, e.g.
   * 127.0.0.2 where nothing listens, so its validation fails with a connection error.
   */
  addA(host: string, addresses: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Use this validation port instead of a free one. */
  tlsPort?: number;
  /** Extra environment (defaults below are always set unless overridden). */
  env?: Record<string, string>;
}

/** Starts pebble-challtestsrv (DNS only) and Pebble; resolves when the directory answers. */
export async function startPebble(ws: Workspace, opts: PebbleOptions = {}): Promise<Pebble> {
  const dir = ws.subdir("pebble");
  const [acmePort, mgmtPort, httpPort, freeTls, dnsPort, chalMgmtPort] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const tlsPort = opts.tlsPort ?? freeTls;
  const ca = createCA(path.join(dir, "pki"), "pebble listener CA");
  const leaf = issueCert(ca, ["localhost", "127.0.0.1", "::1"], "pebble");
  const configPath = path.join(dir, "pebble-config.json");
  fs.writeFileSync(
    configPath,
    JSON.stringify(
      {
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: leaf.certPath,
          privateKey: leaf.keyPath,
          httpPort,
          tlsPort,
          ocspResponderURL: "",
          externalAccountBindingRequired: false,
        },
      },
      null,
      2,
    ),
  );

  // DNS for Pebble: every A query answers 127.0.0.1, AAAA answers nothing (else Pebble dials [::1]).
  const challtestsrv = spawnProc(ws, "challtestsrv", [
    "pebble-challtestsrv",
    "-defaultIPv6",
    "",
    "-defaultIPv4",
    "127.0.0.1",
    "-http01",
    "",
    "-https01",
    "",
    "-tlsalpn01",
    "",
    "-dns01",
    `127.0.0.1:${dnsPort}`,
    "-management",
    `127.0.0.1:${chalMgmtPort}`,
  ]);
  await waitForPort(chalMgmtPort, {
    abort: () => (challtestsrv.exitStatus() ? "challtestsrv exited" : undefined),
  });

  const pebble = spawnProc(
    ws,
    "pebble",
    ["pebble", "-config", configPath, "-dnsserver", `127.0.0.1:${dnsPort}`],
    {
      env: {
        PEBBLE_VA_NOSLEEP: "1",
        PEBBLE_WFE_NONCEREJECT: "0",
        PEBBLE_AUTHZREUSE: "0",
        ...opts.env,
      },
    },
  );
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  await waitForPort(acmePort, {
    abort: () => (pebble.exitStatus() ? `pebble exited, see ${pebble.logPath}` : undefined),
  });
  const caText = ca.cert;
  const dirRes = await httpsRequest(directoryUrl, { ca: caText });
  if (dirRes.status !== 200 || !dirRes.body.includes("newOrder")) {
    throw new Error(`Pebble directory did not answer: ${dirRes.status} ${dirRes.body}`);
  }
  const rootsUrl = `https://127.0.0.1:${mgmtPort}/roots/0`;
  let stopped = false;
  return {
    directoryUrl,
    caPem: ca.certPath,
    tlsPort,
    httpPort,
    rootsUrl,
    dnsPort,
    challtestsrvUrl: `http://127.0.0.1:${chalMgmtPort}`,
    pebble,
    challtestsrv,
    issuingRoot: async () => {
      const r = await httpsRequest(rootsUrl, { ca: caText });
      if (r.status !== 200) throw new Error(`GET ${rootsUrl}: ${r.status}`);
      return r.body;
    },
    addA: async (host, addresses) => {
      const r = await fetch(`http://127.0.0.1:${chalMgmtPort}/add-a`, {
        method: "POST",
        body: JSON.stringify({ host, addresses }),
        signal: AbortSignal.timeout(5000),
      });
      if (r.status !== 200) throw new Error(`challtestsrv add-a ${host}: ${r.status} ${await r.text()}`);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pebble.stop();
      await challtestsrv.stop();
    },
  };
}

// The soak's mixed load: starts clients of each kind at a bounded rate and concurrency, runs the
// validation bursts, route swaps and SIGHUPs on timers, and counts every outcome.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { acmeClient, normalClient, refusedClient } from "./soak-clients.mjs";
import { HELLO_TIMEOUT_MS, HOSTS } from "./soak-router.mjs";

const HELLO = fs.readFileSync(
  path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    "../../packages/core/src/_testdata/hellos/curl-http2.bin",
  ),
);
const rand = (a, b) => a + Math.floor(Math.random() * (b - a + 1));
const MiB = 1024 * 1024;

/** Kinds: weight in the mix, most open at once (undefined: only the global cap). */
const KINDS = {
  short: { weight: 50 },
  long: { weight: 6, max: 40 },
  slow: { weight: 5, max: 15 },
  silent: { weight: 5, max: 20 },
  garbage: { weight: 3 },
  truncated: { weight: 3 },
  http: { weight: 3 },
};
const TOTAL = Object.values(KINDS).reduce((a, k) => a + k.weight, 0);
/** The kind at `r` in [0, TOTAL) of the weighted list. */
function pick(r) {
  let left = r;
  for (const entry of Object.entries(KINDS)) {
    left -= entry[1].weight;
    if (left < 0) return entry;
  }
  return Object.entries(KINDS)[0];
}

export class Load {
  served = {};
  expected = {};
  unexpected = {};
  examples = [];
  ops = { routeSwaps: 0, sighups: 0, acmeBursts: 0, acmeHandshakes: 0, streamedBytes: 0 };
  active = 0;
  #open = {};
  #inflight = new Set();
  #timers = [];
  #stopped = false;
  #seq = 0;
  #t0 = Date.now();

  constructor({ router, maxClients, ratePerSecond = 100, log }) {
    this.router = router;
    this.maxClients = maxClients;
    this.perTick = Math.max(1, Math.round(ratePerSecond / 50)); // one tick every 20 ms
    this.log = log;
  }

  start() {
    const every = (ms, f) => this.#timers.push(setInterval(() => !this.#stopped && f(), ms));
    every(20, () => this.#tick());
    every(5000, () => this.#track(this.#acmeBurst()));
    every(3000, () =>
      this.#track(
        this.router.swapRoutes().then(
          () => this.ops.routeSwaps++,
          (e) => this.#fail("route swap", e.message),
        ),
      ),
    );
    every(7000, () => {
      try {
        this.router.sighup();
        this.ops.sighups++;
      } catch (e) {
        this.#fail("sighup", e.message);
      }
    });
  }

  /** Stops starting clients and waits for those in flight (they all have deadlines). */
  async stop() {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await Promise.all([...this.#inflight]);
  }

  #track(p) {
    this.#inflight.add(p);
    p.finally(() => this.#inflight.delete(p));
    return p;
  }

  #fail(kind, reason) {
    this.unexpected[kind] = (this.unexpected[kind] ?? 0) + 1;
    if (this.examples.length < 20)
      this.examples.push(`${((Date.now() - this.#t0) / 1000).toFixed(1)} s ${reason}`);
  }

  #tick() {
    for (let i = 0; i < this.perTick && this.active < this.maxClients; i++) {
      const [kind, spec] = pick(Math.random() * TOTAL);
      if (spec.max && (this.#open[kind] ?? 0) >= spec.max) continue;
      this.#run(kind);
    }
  }

  #run(kind) {
    this.active++;
    this.#open[kind] = (this.#open[kind] ?? 0) + 1;
    const n = this.#seq++;
    const p = this.#client(kind, n).then((res) => {
      this.active--;
      this.#open[kind]--;
      if (res.ok) {
        this.served[kind] = (this.served[kind] ?? 0) + 1;
        this.ops.streamedBytes += res.bytes ?? 0;
      } else if (res.expected) this.expected[kind] = (this.expected[kind] ?? 0) + 1;
      else this.#fail(kind, res.reason);
    });
    this.#track(p);
  }

  #client(kind, n) {
    const port = this.router.port;
    // Normal clients from 127.0.1.x, hostile ones from 127.0.2.x (alpnmux caps pre-hello connections per address at 64).
    const normal = `127.0.1.${1 + (n % 100)}`;
    const hostile = `127.0.2.${1 + (n % 50)}`;
    const proxied = Math.random() < 0.5;
    const route = proxied ? { backend: "proxied", proxy: true } : { backend: "web", proxy: false };
    const host = proxied ? HOSTS.proxied : HOSTS.web;
    const quick = 2000;
    const atTimeout = { minMs: HELLO_TIMEOUT_MS - 300, maxMs: HELLO_TIMEOUT_MS + 2500 };
    switch (kind) {
      case "short":
        return normalClient({ kind, port, host, route, localAddress: normal });
      case "long": {
        const stream = Math.random() < 0.3 ? rand(1, 8) * MiB : 0;
        return normalClient({ kind, port, host, route, localAddress: normal, pings: rand(4, 12), stream });
      }
      case "slow":
        return normalClient({ kind, port, host, route, localAddress: hostile, slowMs: rand(800, 2000) });
      case "silent":
        return refusedClient({ kind, port, localAddress: hostile, ...atTimeout });
      case "garbage": {
        const bytes = crypto.randomBytes(rand(1, 2000));
        bytes[0] = rand(0x17, 0xff); // not a handshake record: never TLS
        const end = Math.random() < 0.5;
        // A top bit set may start an SSL 2.0-style hello, told apart by the third byte: with
        // fewer bytes and no FIN the router waits, as for a silent client, until the timeout.
        if (bytes[0] & 0x80 && bytes.length < 3 && !end)
          return refusedClient({ kind, port, localAddress: hostile, bytes, ...atTimeout });
        return refusedClient({ kind, port, localAddress: hostile, bytes, end, maxMs: quick });
      }
      case "truncated": {
        const bytes = HELLO.subarray(0, rand(1, HELLO.length - 1));
        const end = Math.random() < 0.5;
        // Without FIN it waits for more until the hello timeout; with FIN it is closed at once.
        return end
          ? refusedClient({ kind, port, localAddress: hostile, bytes, end, maxMs: quick })
          : refusedClient({ kind, port, localAddress: hostile, bytes, ...atTimeout });
      }
      case "http":
        return refusedClient({
          kind,
          port,
          localAddress: hostile,
          bytes: Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOSTS.web}\r\n\r\n`),
          maxMs: quick,
        });
    }
  }

  /** A fresh challenge through the admin API, then 5-10 validations at once, then the challenge deleted. */
  async #acmeBurst() {
    const identifier = `acme-${this.ops.acmeBursts++}.soak.test`;
    const keyAuthorization = `${crypto.randomBytes(32).toString("base64url")}.${crypto.randomBytes(32).toString("base64url")}`;
    try {
      await this.router.setChallenge(identifier, keyAuthorization);
    } catch (e) {
      return this.#fail("acme", `set challenge: ${e.message}`);
    }
    const results = await Promise.all(
      Array.from({ length: rand(5, 10) }, (_, i) =>
        acmeClient({
          port: this.router.port,
          identifier,
          keyAuthorization,
          localAddress: `127.0.3.${1 + i}`,
        }),
      ),
    );
    for (const r of results) {
      if (r.ok) this.ops.acmeHandshakes++;
      else this.#fail("acme", r.reason);
    }
    this.served.acme = (this.served.acme ?? 0) + results.filter((r) => r.ok).length;
    await this.router
      .deleteChallenge(identifier)
      .catch((e) => this.#fail("acme", `delete challenge: ${e.message}`));
  }

  summaryLine() {
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    return `served ${sum(this.served)}, expected refusals ${sum(this.expected)}, unexpected ${sum(this.unexpected)}`;
  }
}

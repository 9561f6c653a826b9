/**
 * The router: the route table (swappable at run time), connection limits, metrics and the
 * per-connection log line. The {@linkcode Engine} asks it to admit each connection, to decide
 * its route, and to account for it when it closes.
 *
 * @module router
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { formatHostPort } from "./address.ts";
import type { ClientHello } from "./clienthello-types.ts";
import type { RouterConfig } from "./config.ts";
import type { Connection } from "./connection.ts";
import type { ConnectionInfo, ConnectionRecord, Outcome } from "./engine-types.ts";
import type { CounterChild } from "./metrics.ts";
import type { Decision } from "./policy.ts";
import { RouteTable } from "./policy.ts";
import { createRouterMetrics, type RouterMetrics } from "./router-metrics.ts";
import type { ChallengeResponder, ResponderCertificate } from "./tls13/responder.ts";

/**
 * The built-in ACME responder as the engine uses it (made by `createBuiltinResponder` in
 * `@alpnmux/core/challenge`): first a lookup of the challenge for the hello's SNI, then, only
 * when there is one, a sans-I/O TLS 1.3 server presenting its certificate.
 */
export interface ChallengeHost {
  /**
   * The challenge certificate for a TLS server name (a reverse-DNS name means its IP).
   * @returns `undefined` when no challenge is stored; rejects when the store fails.
   */
  lookup(serverName: string): Promise<ResponderCertificate | undefined>;
  /** A new TLS 1.3 responder presenting `cert`. */
  respond(cert: ResponderCertificate): ChallengeResponder;
}

/** Options of {@linkcode createRouter}. */
export interface RouterOptions {
  /** A checked config (see `parseConfig`/`loadConfig`). */
  readonly config: RouterConfig;
  /** Built-in ACME responder; if absent, `acme: builtin` routes close the connection. */
  readonly responder?: ChallengeHost;
  /** Clock in milliseconds; if absent, `Date.now`. */
  readonly now?: () => number;
  /** Metrics to use; if absent, a new set. */
  readonly metrics?: RouterMetrics;
  /** This process's worker number (`workers: N`): each connection's log line carries it as `worker`. */
  readonly worker?: number;
}

/** The result of {@linkcode Router.admit}: the addresses (IPv4-mapped ones unmapped) and the verdict. */
export type AdmitResult =
  | { readonly ok: true; readonly info: ConnectionInfo }
  | {
      readonly ok: false;
      readonly info: ConnectionInfo;
      readonly limit: "connections" | "connections-per-ip" | "hello" | "hello-per-ip";
    };

/** One route's children of the per-connection counters (no label lookups on the hot path). */
interface RouteSeries {
  readonly route: string;
  readonly outcomes: Map<Outcome, CounterChild>;
  readonly up: CounterChild;
  readonly down: CounterChild;
}

/** `alpnmux_challenges_total{outcome}` label for each responder outcome. */
const CHALLENGE_LABEL: Partial<Record<Outcome, string>> = {
  "challenge-served": "served",
  "challenge-failed": "failed",
  "challenge-missing": "missing",
  "challenge-fallback": "fallback",
  "challenge-unavailable": "unavailable",
};

/**
 * Routes connections. One per process (or per listener group); safe to share across listeners.
 *
 * @example
 * ```ts
 * import { createRouter, loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * const router = createRouter({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * const r = router.admit({ client: { address: "::1", port: 40000 }, local: { address: "::1", port: 443 } });
 * if (!r.ok) console.log("refused by limit", r.limit);
 * ```
 */
export class Router {
  #table: RouteTable;
  readonly metrics: RouterMetrics;
  /** The built-in responder, if configured. */
  readonly challenges: ChallengeHost | undefined;
  readonly now: () => number;
  /** The worker number this router runs in (`workers: N`), if any. */
  readonly worker: number | undefined;
  readonly #log: Logger = getLogger(["alpnmux", "connection"]);
  readonly #perIp = new Map<string, number>();
  readonly #helloPerIp = new Map<string, number>();
  readonly #perRoute = new Map<string, RouteSeries>();
  #active = 0;
  #inHello = 0;

  /** @param options Config, responder and clock. */
  constructor(options: RouterOptions) {
    this.#table = new RouteTable(options.config);
    this.metrics = options.metrics ?? createRouterMetrics();
    this.challenges = options.responder;
    this.now = options.now ?? Date.now;
    this.worker = options.worker;
  }

  /** The config in force. */
  get config(): RouterConfig {
    return this.#table.config;
  }

  /** The route table in force. */
  get table(): RouteTable {
    return this.#table;
  }

  /** Connections open now. */
  get active(): number {
    return this.#active;
  }

  /** Connections still in the hello phase. */
  get inHello(): number {
    return this.#inHello;
  }

  /**
   * Swaps in a new config atomically: new connections use it, connections already routed keep
   * their decision. Listen addresses and limits that need a new socket are the adapter's.
   * @param config A checked config.
   */
  setConfig(config: RouterConfig): void {
    this.#table = new RouteTable(config);
    this.metrics.configReloads.labels({ result: "ok" }).inc();
  }

  get maxHelloBytes(): number {
    return this.#table.config.maxHelloBytes;
  }
  get maxHelloRecords(): number {
    return this.#table.config.maxHelloRecords;
  }
  get helloTimeoutMs(): number {
    return this.#table.config.helloTimeout;
  }
  get connectTimeoutMs(): number {
    return this.#table.config.connectTimeout;
  }

  /**
   * Admits a new connection, or refuses it when a limit is reached (and logs that). An admitted
   * connection must be reported with `helloDone` (once) and `closed` (once).
   * @param info Client and local addresses.
   * @returns The verdict, with IPv4-mapped addresses unmapped.
   */
  admit(info: ConnectionInfo): AdmitResult {
    const client = unmapEndpoint(info.client);
    const local = unmapEndpoint(info.local);
    if (client !== info.client || local !== info.local) info = { client, local };
    const l = this.#table.config.limits;
    const ip = info.client.address;
    const limit =
      this.#active >= l.maxConnections
        ? "connections"
        : l.maxConnectionsPerIp > 0 && (this.#perIp.get(ip) ?? 0) >= l.maxConnectionsPerIp
          ? "connections-per-ip"
          : this.#inHello >= l.maxHelloConnections
            ? "hello"
            : (this.#helloPerIp.get(ip) ?? 0) >= l.maxHelloConnectionsPerIp
              ? "hello-per-ip"
              : null;
    if (limit) {
      this.metrics.limitRejections.labels({ limit }).inc();
      this.metrics.connections.labels({ route: "none", outcome: "limit" }).inc();
      this.#logRecord({
        client: endpoint(info.client),
        local: endpoint(info.local),
        sni: null,
        alpn: null,
        ech: false,
        helloBytes: null,
        route: null,
        upstream: null,
        outcome: "limit",
        end: "limit",
        error: `${limit} limit reached`,
        bytesUp: 0,
        bytesDown: 0,
        durationMs: 0,
      });
      return { ok: false, info, limit };
    }
    this.#active++;
    this.#inHello++;
    bump(this.#perIp, ip, 1);
    bump(this.#helloPerIp, ip, 1);
    this.metrics.active.set(this.#active);
    this.metrics.helloPhase.set(this.#inHello);
    return { ok: true, info };
  }

  /**
   * The route for a ClientHello.
   * @param hello The parsed hello.
   * @returns The decision.
   */
  decide(hello: ClientHello): Decision {
    return this.#table.decide(hello);
  }

  /** @returns The decision for a connection whose first byte is not a TLS handshake. */
  decideNotTls(): Decision {
    return this.#table.decideNotTls();
  }

  /**
   * An admitted connection left the hello phase.
   * @param c The connection.
   * @param helloBytes The hello's size, when one was read.
   * @param errorCode The sniffer's error code, when it refused the bytes.
   */
  helloDone(c: Connection<unknown>, helloBytes: number | null, errorCode: string | null): void {
    this.#inHello--;
    bump(this.#helloPerIp, c.info.client.address, -1);
    this.metrics.helloPhase.set(this.#inHello);
    this.metrics.helloWait.observe((this.now() - c.startedAt) / 1000);
    if (helloBytes !== null) this.metrics.helloBytes.observe(helloBytes);
    if (errorCode !== null) this.metrics.helloErrors.labels({ code: errorCode }).inc();
  }

  /**
   * An admitted connection closed: counts it and writes its log line.
   * @param c The connection.
   * @param record Its log record.
   */
  closed(c: Connection<unknown>, record: ConnectionRecord): void {
    this.#active--;
    bump(this.#perIp, c.info.client.address, -1);
    this.metrics.active.set(this.#active);
    const m = this.#routeMetrics(record.route ?? "none");
    let outcome = m.outcomes.get(record.outcome);
    if (outcome === undefined) {
      outcome = this.metrics.connections.labels({ route: m.route, outcome: record.outcome });
      m.outcomes.set(record.outcome, outcome);
    }
    outcome.inc();
    if (record.bytesUp) m.up.inc(record.bytesUp);
    if (record.bytesDown) m.down.inc(record.bytesDown);
    if (c.upstreamFault) this.metrics.upstreamErrors.labels({ route: m.route }).inc();
    const challenge = CHALLENGE_LABEL[record.outcome];
    if (challenge !== undefined) this.metrics.challenges.labels({ outcome: challenge }).inc();
    this.#logRecord(record);
  }

  /** The series a route's closed connections update, looked up once per route. */
  #routeMetrics(route: string): RouteSeries {
    let m = this.#perRoute.get(route);
    if (m === undefined) {
      m = {
        route,
        outcomes: new Map(),
        up: this.metrics.bytes.labels({ route, direction: "upstream" }),
        down: this.metrics.bytes.labels({ route, direction: "downstream" }),
      };
      this.#perRoute.set(route, m);
    }
    return m;
  }

  /** The one log line per connection (a warning when a limit refused it). */
  #logRecord(record: ConnectionRecord): void {
    // Nothing copied when the line is not written (the benchmarks run at `warning`).
    if (record.outcome !== "limit" && !this.#log.isEnabledFor("info")) return;
    const props = this.worker === undefined ? { ...record } : { ...record, worker: this.worker };
    if (record.outcome === "limit") {
      this.#log.warn("{client} refused: {error}", props);
      return;
    }
    this.#log.info(
      this.worker === undefined
        ? "{client} sni={sni} route={route} {outcome} up={bytesUp} down={bytesDown} {durationMs}ms"
        : "{client} sni={sni} route={route} {outcome} up={bytesUp} down={bytesDown} {durationMs}ms worker={worker}",
      props,
    );
  }
}

function endpoint(e: ConnectionInfo["client"]): string {
  return formatHostPort({ host: e.address, port: e.port });
}

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) → `192.0.2.1`. */
function unmapEndpoint(e: ConnectionInfo["client"]): ConnectionInfo["client"] {
  const a = e.address ?? "";
  return a.toLowerCase().startsWith("::ffff:") && a.includes(".") ? { address: a.slice(7), port: e.port } : e;
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const v = (map.get(key) ?? 0) + by;
  if (v <= 0) map.delete(key);
  else map.set(key, v);
}

/**
 * Creates a router.
 *
 * @param options Config, responder, clock.
 * @returns The router.
 * @example
 * ```ts
 * import { createRouter, parseConfig } from "@alpnmux/core";
 * const router = createRouter({ config: parseConfig({ default: { upstream: "127.0.0.1:8443", proxy: "v2" } }) });
 * router.metrics.registry.render();
 * ```
 */
export function createRouter(options: RouterOptions): Router {
  return new Router(options);
}

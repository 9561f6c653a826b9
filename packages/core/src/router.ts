/**
 * The router: the route table (swappable at run time), connection limits, metrics and the
 * per-connection log line. Adapters call `accept()` for each connection and drive the
 * returned {@linkcode Session}.
 *
 * @module router
 */

import { getLogger, type Logger } from "@logtape/logtape";
import { formatHostPort } from "./address.ts";
import type { ClientHello } from "./clienthello-types.ts";
import type { RouterConfig } from "./config.ts";
import type { Decision } from "./policy.ts";
import { RouteTable } from "./policy.ts";
import { createRouterMetrics, type RouterMetrics } from "./router-metrics.ts";
import {
  type ConnectionInfo,
  type ConnectionRecord,
  type ResponderConnection,
  Session,
  type SessionHost,
} from "./session.ts";

/** Makes the built-in ACME responder for a session (wired by the challenge module). */
export type ResponderFactory = (
  session: Session,
  decision: Extract<Decision, { action: "acme-builtin" }>,
  hello: ClientHello,
) => ResponderConnection;

/** Options of {@linkcode createRouter}. */
export interface RouterOptions {
  /** A checked config (see `parseConfig`/`loadConfig`). */
  readonly config: RouterConfig;
  /** Built-in ACME responder; if absent, `acme: builtin` routes close the connection. */
  readonly responder?: ResponderFactory;
  /** Clock in milliseconds; if absent, `Date.now`. */
  readonly now?: () => number;
  /** Metrics to use; if absent, a new set. */
  readonly metrics?: RouterMetrics;
}

/** The result of {@linkcode Router.accept}. */
export type AcceptResult =
  | { readonly ok: true; readonly session: Session }
  | { readonly ok: false; readonly limit: "connections" | "connections-per-ip" | "hello" | "hello-per-ip" };

/**
 * Routes connections. One per process (or per listener group); safe to share across listeners.
 *
 * @example
 * ```ts
 * import { createRouter, loadConfig, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * const router = createRouter({ config: loadConfig(DEFAULT_CONFIG_YAML) });
 * const r = router.accept({ client: { address: "::1", port: 40000 }, local: { address: "::1", port: 443 } });
 * if (!r.ok) console.log("refused by limit", r.limit);
 * ```
 */
export class Router implements SessionHost {
  #table: RouteTable;
  readonly metrics: RouterMetrics;
  readonly #responder: ResponderFactory | undefined;
  readonly now: () => number;
  readonly #log: Logger = getLogger(["alpnmux", "connection"]);
  readonly #perIp = new Map<string, number>();
  readonly #helloPerIp = new Map<string, number>();
  #active = 0;
  #inHello = 0;
  /** Sessions not yet closed. */
  readonly sessions = new Set<Session>();

  /** @param options Config, responder and clock. */
  constructor(options: RouterOptions) {
    this.#table = new RouteTable(options.config);
    this.metrics = options.metrics ?? createRouterMetrics();
    this.#responder = options.responder;
    this.now = options.now ?? Date.now;
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
   * Admits a new connection, or refuses it when a limit is reached (the adapter then closes it
   * at once).
   * @param info Client and local addresses.
   * @returns A session, or the limit that refused it.
   */
  accept(info: ConnectionInfo): AcceptResult {
    info = { client: unmapEndpoint(info.client), local: unmapEndpoint(info.local) };
    const l = this.#table.config.limits;
    const ip = info.client.address;
    const limit =
      this.#active >= l.maxConnections
        ? "connections"
        : (this.#perIp.get(ip) ?? 0) >= l.maxConnectionsPerIp
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
      return { ok: false, limit };
    }
    this.#active++;
    this.#inHello++;
    bump(this.#perIp, ip, 1);
    bump(this.#helloPerIp, ip, 1);
    this.metrics.active.set(this.#active);
    this.metrics.helloPhase.set(this.#inHello);
    const session = new Session(this, info);
    this.sessions.add(session);
    return { ok: true, session };
  }

  decide(hello: ClientHello): Decision {
    return this.#table.decide(hello);
  }

  decideNotTls(): Decision {
    return this.#table.decideNotTls();
  }

  responder(
    session: Session,
    decision: Extract<Decision, { action: "acme-builtin" }>,
    hello: ClientHello,
  ): ResponderConnection {
    if (!this.#responder) {
      return {
        receive: async () => {
          session.setOutcome("challenge-unavailable", "no built-in responder configured");
          return { write: new Uint8Array(0), done: true };
        },
      };
    }
    return this.#responder(session, decision, hello);
  }

  helloDone(session: Session, helloBytes: number | null, errorCode: string | null): void {
    this.#inHello--;
    bump(this.#helloPerIp, session.info.client.address, -1);
    this.metrics.helloPhase.set(this.#inHello);
    this.metrics.helloWait.observe((this.now() - session.startedAt) / 1000);
    if (helloBytes !== null) this.metrics.helloBytes.observe(helloBytes);
    if (errorCode !== null) this.metrics.helloErrors.labels({ code: errorCode }).inc();
  }

  closed(session: Session, record: ConnectionRecord): void {
    this.sessions.delete(session);
    this.#active--;
    bump(this.#perIp, session.info.client.address, -1);
    this.metrics.active.set(this.#active);
    const route = record.route ?? "none";
    this.metrics.connections.labels({ route, outcome: record.outcome }).inc();
    if (record.bytesUp) this.metrics.bytes.labels({ route, direction: "upstream" }).inc(record.bytesUp);
    if (record.bytesDown) this.metrics.bytes.labels({ route, direction: "downstream" }).inc(record.bytesDown);
    if (record.outcome === "upstream-error") this.metrics.upstreamErrors.labels({ route }).inc();
    if (record.outcome.startsWith("challenge-")) {
      this.metrics.challenges.labels({ outcome: record.outcome.slice("challenge-".length) }).inc();
    }
    this.#logRecord(record);
  }

  /** The one log line per connection (a warning when a limit refused it). */
  #logRecord(record: ConnectionRecord): void {
    if (record.outcome === "limit") {
      this.#log.warn("{client} refused: {error}", { ...record });
      return;
    }
    this.#log.info(
      "{client} sni={sni} route={route} {outcome} up={bytesUp} down={bytesDown} {durationMs}ms",
      {
        ...record,
      },
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

/**
 * The routing policy: routes compiled from config, tried in order, first match wins, with a
 * required default. Matchers inside a route are ANDed (caddy-l4); a route's target is an
 * upstream (with a PROXY protocol version), the built-in ACME responder, or reject (tcpproxy).
 *
 * ACME rule: by default (`acme: exact` or `acme: true`) a hello is an ACME TLS-ALPN-01
 * validation only when its ALPN list is exactly `["acme-tls/1"]`, which is what every validator
 * sends (RFC 8737, Section 3; Boulder, Pebble) and what certmagic requires. `acme: contains`
 * accepts `acme-tls/1` anywhere in the list. The SNI may be a reverse-DNS name for an IP
 * identifier (RFC 8738); combine with `sni` to limit names.
 *
 * A hello without SNI goes through the routes like any other (`onNoSni: route`, the default;
 * a `noSni` matcher picks it out), or is refused before any route (`onNoSni: close`).
 *
 * @module policy
 */

import type { HostPort } from "./address.ts";
import type { ClientHello } from "./clienthello-types.ts";
import type { RouteConfig, RouterConfig, TargetConfig, UpstreamTargetConfig } from "./config.ts";
import { ACME_TLS_ALPN } from "./constants.ts";
import { HostnameSet } from "./hostname.ts";

/** Where a connection goes. */
export type Decision =
  | {
      readonly action: "forward";
      readonly route: string;
      readonly upstream: HostPort;
      readonly proxy: "none" | "v1" | "v2";
      readonly tlvs: readonly ("authority" | "alpn")[];
      readonly connectTimeoutMs: number | undefined;
    }
  | {
      readonly action: "acme-builtin";
      readonly route: string;
      /** Where to go when no challenge is stored for the name. */
      readonly fallback: "reject" | HostPort;
    }
  | { readonly action: "reject"; readonly route: string; readonly reason: CloseReason };

/** Why the router closed a connection itself. */
export type CloseReason =
  | "rejected"
  | "not-tls"
  | "no-sni"
  | "invalid-hello"
  | "hello-too-large"
  | "hello-timeout"
  | "client-closed"
  | "limit"
  | "upstream-error"
  | "shutdown";

/** A compiled matcher: true when the hello matches. */
export type HelloPredicate = (hello: ClientHello) => boolean;

interface CompiledRoute {
  readonly name: string;
  readonly test: HelloPredicate;
  readonly target: TargetConfig;
}

/**
 * Whether a hello is an ACME TLS-ALPN-01 validation.
 *
 * @param hello The parsed hello.
 * @param mode `exact` (ALPN is exactly `["acme-tls/1"]`) or `contains`.
 * @returns true for a validation hello.
 * @example
 * ```ts
 * import { type ClientHello, isAcmeHello } from "@alpnmux/core";
 * function isValidator(hello: ClientHello): boolean {
 *   return isAcmeHello(hello, "exact");
 * }
 * ```
 */
export function isAcmeHello(hello: ClientHello, mode: "exact" | "contains" = "exact"): boolean {
  const alpn = hello.alpn;
  if (!alpn) return false;
  return mode === "exact" ? alpn.length === 1 && alpn[0] === ACME_TLS_ALPN : alpn.includes(ACME_TLS_ALPN);
}

function compileMatch(m: RouteConfig["match"]): HelloPredicate {
  const tests: HelloPredicate[] = [];
  if (m.sni) {
    const set = new HostnameSet(m.sni);
    tests.push((h) => h.serverName !== null && set.has(h.serverName));
  }
  if (m.alpn) {
    const wanted = new Set(m.alpn);
    tests.push((h) => h.alpn?.some((p) => wanted.has(p)) ?? false);
  }
  if (m.acme !== undefined) {
    const mode = m.acme === true ? "exact" : m.acme;
    tests.push((h) => isAcmeHello(h, mode));
  }
  if (m.noSni) tests.push((h) => h.serverName === null);
  if (m.ech !== undefined) {
    const want = m.ech;
    tests.push((h) => h.ech === want);
  }
  return (h) => tests.every((t) => t(h));
}

function toDecision(route: string, t: TargetConfig | "reject", fallbackTimeout: number): Decision {
  if (t === "reject") return { action: "reject", route, reason: "rejected" };
  if ("acme" in t) {
    return {
      action: "acme-builtin",
      route,
      fallback: t.fallback === "reject" ? "reject" : t.fallback.upstream,
    };
  }
  return forward(route, t, fallbackTimeout);
}

function forward(route: string, t: UpstreamTargetConfig, fallbackTimeout: number): Decision {
  return {
    action: "forward",
    route,
    upstream: t.upstream,
    proxy: t.proxy,
    tlvs: t.tlvs,
    connectTimeoutMs: t.connectTimeout ?? fallbackTimeout,
  };
}

/**
 * The compiled route table. Immutable: to change routes, compile a new table and swap it in;
 * connections already routed keep their decision.
 *
 * @example
 * ```ts
 * import { type ClientHello, loadConfig, RouteTable, DEFAULT_CONFIG_YAML } from "@alpnmux/core";
 * const table = new RouteTable(loadConfig(DEFAULT_CONFIG_YAML));
 * function route(hello: ClientHello) {
 *   return table.decide(hello); // { action: "forward", route: "acme", ... } for a validator
 * }
 * ```
 */
export class RouteTable {
  readonly #routes: CompiledRoute[];
  readonly #default: Decision;
  readonly #notTls: Decision;
  readonly #noSni: Decision | null;
  /** The config the table was compiled from. */
  readonly config: RouterConfig;

  /** @param config A checked config (see `parseConfig`). */
  constructor(config: RouterConfig) {
    this.config = config;
    const timeout = config.connectTimeout;
    this.#routes = config.routes.map((r, i) => ({
      name: r.name ?? `route-${i}`,
      test: compileMatch(r.match),
      target: r.target,
    }));
    this.#default = toDecision("default", config.default, timeout);
    this.#notTls =
      config.onNotTls === "default"
        ? this.#default
        : { action: "reject", route: "not-tls", reason: "not-tls" };
    this.#noSni = config.onNoSni === "close" ? { action: "reject", route: "no-sni", reason: "no-sni" } : null;
  }

  /** Route names in order, the default last. */
  get routeNames(): string[] {
    return [...this.#routes.map((r) => r.name), "default"];
  }

  /**
   * Decides where a hello goes: the first matching route, else the default.
   *
   * @param hello The parsed hello.
   * @returns The decision.
   */
  decide(hello: ClientHello): Decision {
    if (hello.serverName === null && this.#noSni) return this.#noSni;
    for (const r of this.#routes) {
      if (r.test(hello)) return toDecision(r.name, r.target, this.config.connectTimeout);
    }
    return this.#default;
  }

  /**
   * Decides where a first flight that is not TLS goes (`onNotTls`).
   *
   * @returns The decision: reject (default) or the default route.
   */
  decideNotTls(): Decision {
    return this.#notTls;
  }
}

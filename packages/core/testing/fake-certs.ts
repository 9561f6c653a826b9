/**
 * Test-only parts for the certificate manager: an in-memory {@linkcode CertHost} (files with
 * modes, the write order, deploy runs), a hand-driven clock, an issuer that signs real
 * certificates from the CSR with its own CA (lifetime, ARI and failures set by the test), and a
 * Redis command function enough for the lock and the shared certificate. Not published.
 *
 * @module fake-certs
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { CertClock } from "../src/certs/clock.ts";
import type { CertHost, RunResult } from "../src/certs/host.ts";
import type { CertificateIssuer, IssuedCertificate, OrderRequest, RenewalInfo } from "../src/certs/issuer.ts";
import { EXTEND_SCRIPT, RELEASE_SCRIPT } from "../src/certs/shared.ts";
import type { AcmeProblemDocument, CertificateSource, CertificateStatus } from "../src/certs/status.ts";
import type { RespValue } from "../src/redis/resp.ts";
import { createTestCa, issueTestChain, type TestCa } from "./test-ca.ts";

x509.cryptoProvider.set(crypto);

/** An in-memory host. */
export class MemoryCertHost implements CertHost {
  readonly files = new Map<string, { data: string; mode: number }>();
  /** Paths in the order they were written. */
  readonly writes: string[] = [];
  readonly runs: { command: string; env: Record<string, string>; timeoutMs: number }[] = [];
  runResult: RunResult = { code: 0, output: "" };
  cas: (string | undefined)[] = [];

  acmeFetch(ca: string | undefined): typeof fetch {
    this.cas.push(ca);
    return (() => Promise.reject(new Error("no network in tests"))) as unknown as typeof fetch;
  }
  readFile(path: string): Promise<Uint8Array | null> {
    const f = this.files.get(path);
    return Promise.resolve(f ? new TextEncoder().encode(f.data) : null);
  }
  writeFileAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void> {
    this.files.set(path, { data: typeof data === "string" ? data : new TextDecoder().decode(data), mode });
    this.writes.push(path);
    return Promise.resolve();
  }
  run(command: string, env: Readonly<Record<string, string>>, timeoutMs: number): Promise<RunResult> {
    this.runs.push({ command, env: { ...env }, timeoutMs });
    return Promise.resolve(this.runResult);
  }
  text(path: string): string | undefined {
    return this.files.get(path)?.data;
  }
}

/** A clock that moves only when told. */
export class FakeClock implements CertClock {
  #now: number;
  #seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void; ms: number }>();
  randomValue = 0.5;

  constructor(now = Date.UTC(2026, 0, 1)) {
    this.#now = now;
  }
  now(): number {
    return this.#now;
  }
  random(): number {
    return this.randomValue;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.timers.set(id, { at: this.#now + ms, fn, ms });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** The earliest pending timer's time, or undefined. */
  nextAt(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }
  /**
   * Moves to `to`, firing due timers in time order; `settle` runs after each (e.g. the
   * manager's `idle()`).
   */
  async advanceTo(to: number, settle: () => Promise<void> = async () => {}): Promise<void> {
    for (;;) {
      let best: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= to && (!best || e[1].at < best[1].at)) best = e;
      if (!best) break;
      this.timers.delete(best[0]);
      this.#now = Math.max(this.#now, best[1].at);
      best[1].fn();
      await settle();
    }
    this.#now = Math.max(this.#now, to);
  }
}

/** An Error shaped like the ACME module's AcmeError. */
export function acmeError(
  message: string,
  extra: { problems?: AcmeProblemDocument[]; retryAfterMs?: number; rateLimited?: boolean } = {},
): Error {
  return Object.assign(new Error(message), {
    code: "problem",
    problems: extra.problems ?? [],
    ...(extra.problems?.[0] ? { problem: extra.problems[0] } : {}),
    ...(extra.retryAfterMs !== undefined ? { retryAfterMs: extra.retryAfterMs } : {}),
    rateLimited: extra.rateLimited ?? false,
  });
}

/** An issuer signing real certificates with its own CA. */
export class FakeIssuer implements CertificateIssuer {
  readonly orders: OrderRequest[] = [];
  readonly presented: { identifier: string; keyAuthorization: string }[] = [];
  /** Errors thrown by the next orders, in turn. */
  readonly failures: Error[] = [];
  /** What renewalInfo answers (null: no ARI), or a function of the certificate's PEM. */
  ari: RenewalInfo | null | ((pem: string) => RenewalInfo | null) = null;
  renewalInfoCalls = 0;
  lifetimeMs = 90 * 86_400_000;
  /** When set, orders wait for it before issuing. */
  gate: Promise<void> | null = null;
  #serial = 0x1000;
  #ca: Promise<TestCa> | undefined;

  constructor(readonly clock: CertClock) {}

  #caKey(): Promise<TestCa> {
    this.#ca ??= createTestCa(
      "CN=Fake Issuer CA",
      new Date(this.clock.now() - 86_400_000),
      new Date(this.clock.now() + 3650 * 86_400_000),
    );
    return this.#ca;
  }

  /** A certificate for `csr`-less use: its own key, for files placed on disk by a test. */
  async issueFor(
    publicKey: CryptoKey | x509.PublicKey,
    identifiers: readonly { type: "dns" | "ip"; value: string }[],
    notBefore: number,
    lifetimeMs: number,
  ): Promise<string> {
    return issueTestChain(await this.#caKey(), {
      serialNumber: (this.#serial++).toString(16),
      notBefore: new Date(notBefore),
      notAfter: new Date(notBefore + lifetimeMs),
      publicKey,
      subjectAltName: new x509.SubjectAlternativeNameExtension(
        identifiers.map((i) => ({ type: i.type, value: i.value })),
      ),
    });
  }

  async order(request: OrderRequest): Promise<IssuedCertificate> {
    this.orders.push(request);
    for (const id of request.identifiers) {
      const ka = `token${this.orders.length}.thumb`;
      await request.solver.present(id, ka);
      this.presented.push({ identifier: id.value, keyAuthorization: ka });
    }
    try {
      if (this.gate) {
        const signal = request.signal;
        await Promise.race([
          this.gate,
          new Promise((_, reject) => {
            if (signal?.aborted) reject(signal.reason);
            signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
          }),
        ]);
      }
      if (request.signal?.aborted) throw request.signal.reason;
      const failure = this.failures.shift();
      if (failure) throw failure;
      const csr = new x509.Pkcs10CertificateRequest(request.csr as Uint8Array<ArrayBuffer>);
      const pem = await this.issueFor(
        csr.publicKey,
        request.identifiers,
        this.clock.now() - 60_000,
        this.lifetimeMs,
      );
      return {
        pem,
        orderUrl: `https://ca.test/order/${this.orders.length}`,
        replaced: request.replaces !== undefined,
      };
    } finally {
      for (const id of request.identifiers) await request.solver.cleanup(id, "");
    }
  }

  renewalInfo(pem: string): Promise<RenewalInfo | null> {
    this.renewalInfoCalls++;
    return Promise.resolve(typeof this.ari === "function" ? this.ari(pem) : this.ari);
  }
}

/** Enough Redis for the certificate lock and the shared certificate (SET NX PX, GET, EVAL, DEL). */
export class FakeCertRedis {
  readonly kv = new Map<string, { value: string; expiresAt: number }>();
  constructor(readonly now: () => number) {}

  #get(key: string): string | null {
    const e = this.kv.get(key);
    if (!e) return null;
    if (e.expiresAt <= this.now()) {
      this.kv.delete(key);
      return null;
    }
    return e.value;
  }

  command(args: readonly (string | Uint8Array)[]): Promise<RespValue> {
    const a = args.map((x) => (typeof x === "string" ? x : new TextDecoder().decode(x)));
    const [cmd, ...rest] = a;
    switch (cmd) {
      case "SET": {
        const [key = "", value = ""] = rest;
        const nx = rest.includes("NX");
        const px = rest.indexOf("PX");
        if (nx && this.#get(key) !== null) return Promise.resolve(null);
        const ttl = px >= 0 ? Number(rest[px + 1]) : Infinity;
        this.kv.set(key, { value, expiresAt: this.now() + ttl });
        return Promise.resolve("OK");
      }
      case "GET":
        return Promise.resolve(this.#get(rest[0] ?? ""));
      case "DEL":
        return Promise.resolve(this.kv.delete(rest[0] ?? "") ? 1 : 0);
      case "EVAL": {
        const [script, , key = "", token, ttl] = rest;
        if (this.#get(key) !== token) return Promise.resolve(0);
        if (script === RELEASE_SCRIPT) {
          this.kv.delete(key);
          return Promise.resolve(1);
        }
        if (script === EXTEND_SCRIPT) {
          this.kv.set(key, { value: token ?? "", expiresAt: this.now() + Number(ttl) });
          return Promise.resolve(1);
        }
        return Promise.resolve(null);
      }
      default:
        return Promise.resolve(null);
    }
  }
}

/** A status with every field set, for admin and CLI tests. */
export function statusOf(name: string, over: Partial<CertificateStatus> = {}): CertificateStatus {
  return {
    name,
    identifiers: ["example.com"],
    state: "valid",
    certificate: {
      notBefore: "2026-01-01T00:00:00.000Z",
      notAfter: "2026-04-01T00:00:00.000Z",
      serial: "fa1e",
      issuer: "CN=Test CA",
      identifiers: ["example.com"],
    },
    nextRenewal: { at: "2026-03-02T00:00:00.000Z", reason: "lifetime" },
    lastResult: { at: "2026-01-01T00:00:00.000Z", outcome: "issued", deployExitCode: 0 },
    ...over,
  };
}

/** A CertificateSource over a mutable list; renew marks the entry renewing. */
export function fakeSource(list: CertificateStatus[]): CertificateSource & { renewed: string[] } {
  const renewed: string[] = [];
  return {
    renewed,
    list: () => list,
    renew: (name) => {
      const i = list.findIndex((s) => s.name === name);
      if (i < 0) return Promise.reject(new RangeError(`no certificate named ${name}`));
      renewed.push(name);
      list[i] = { ...(list[i] as CertificateStatus), state: "renewing", nextRenewal: null };
      return Promise.resolve(list[i] as CertificateStatus);
    },
  };
}

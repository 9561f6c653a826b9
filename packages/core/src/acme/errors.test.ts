import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { AcmeError, describeProblem, parseProblem, parseRetryAfter } from "./errors.ts";

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./_testdata/${name}`, import.meta.url), "utf8"));

describe("parseRetryAfter()", () => {
  const now = Date.parse("2025-07-01T12:00:00Z");
  test("delay seconds", () => {
    assert.equal(parseRetryAfter("0", now), 0);
    assert.equal(parseRetryAfter("21600", now), 21_600_000);
    assert.equal(parseRetryAfter(" 5 ", now), 5000);
  });
  test("an HTTP date, relative to now, never negative", () => {
    assert.equal(parseRetryAfter("Tue, 01 Jul 2025 12:01:30 GMT", now), 90_000);
    assert.equal(parseRetryAfter("Tue, 01 Jul 2025 11:00:00 GMT", now), 0);
  });
  test("absent or unreadable: undefined", () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter("-5", now), undefined);
    assert.equal(parseRetryAfter("1.5", now), undefined);
  });
});

describe("parseProblem()", () => {
  test("RFC 8555, Section 6.7.1: subproblems with identifiers", () => {
    const p = parseProblem(fixture("rfc8555-subproblems.json"));
    assert.equal(p?.type, "urn:ietf:params:acme:error:malformed");
    assert.deepEqual(
      p?.subproblems?.map((s) => [s.identifier?.value, s.type]),
      [
        ["_example.org", "urn:ietf:params:acme:error:malformed"],
        ["example.net", "urn:ietf:params:acme:error:rejectedIdentifier"],
      ],
    );
    const e = new AcmeError("problem", "x", { problem: p ?? undefined });
    assert.deepEqual(
      e.problems.map((s) => s.identifier?.value),
      ["_example.org", "example.net"],
      "an error's problems are the subproblems that name an identifier",
    );
  });
  test("Let's Encrypt's rateLimited problem", () => {
    const res = fixture("le-rate-limited.response.json") as { body: unknown };
    const p = parseProblem(res.body);
    assert.deepEqual(Object.keys(p ?? {}), ["type", "detail", "status"]);
    assert.equal(new AcmeError("problem", "", { problem: p ?? undefined }).rateLimited, true);
  });
  test("fields of the wrong type are dropped; no type: null", () => {
    assert.deepEqual(
      parseProblem({ type: "t", detail: 5, status: "x", identifier: { type: "uri", value: "v" } }),
      {
        type: "t",
      },
    );
    assert.equal(parseProblem({ detail: "no type" }), null);
    assert.equal(parseProblem("text"), null);
    assert.equal(parseProblem(null), null);
  });
  test("describeProblem() gives type: detail", () => {
    assert.equal(describeProblem({ type: "t" }), "t");
    assert.equal(describeProblem({ type: "t", detail: "d" }), "t: d");
  });
});

describe("AcmeError", () => {
  test("carries code, status, Retry-After and cause; rateLimited is false for other types", () => {
    const cause = new Error("ECONNRESET");
    const e = new AcmeError("network", "boom", { cause, status: 502, retryAfterMs: 1000 });
    assert.equal(e.name, "AcmeError");
    assert.equal(e.code, "network");
    assert.equal(e.cause, cause);
    assert.equal(e.status, 502);
    assert.equal(e.retryAfterMs, 1000);
    assert.equal(e.rateLimited, false);
    assert.deepEqual(e.problems, []);
    assert.ok(e instanceof Error);
  });
});

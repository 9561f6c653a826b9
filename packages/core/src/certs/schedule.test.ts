import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../../testing/fake-certs.ts";
import { armTimer, MAX_TIMER_MS } from "./clock.ts";
import {
  ariRecheckAt,
  ariRenewalAt,
  BACKOFF_MAX_MS,
  backoffDelay,
  expiryMargin,
  lifetimeRenewalAt,
  retryPlan,
} from "./schedule.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const at = (v: number) => () => v;

describe("renewal schedule", () => {
  test("no ARI: 2/3 of the lifetime, ±5% jitter", () => {
    assert.equal(lifetimeRenewalAt(0, 90 * DAY, at(0.5)), 60 * DAY);
    assert.equal(lifetimeRenewalAt(0, 90 * DAY, at(0)), 60 * DAY - 4.5 * DAY);
    assert.ok(Math.abs(lifetimeRenewalAt(0, 90 * DAY, at(0.999999)) - (60 * DAY + 4.5 * DAY)) < 1000);
    for (let i = 0; i < 200; i++) {
      const t = lifetimeRenewalAt(1000, 1000 + 90 * DAY, Math.random);
      assert.ok(t >= 1000 + 55.5 * DAY && t <= 1000 + 64.5 * DAY, String(t));
    }
  });

  test("lifetimes of 10 days or less renew at 1/2; never past notAfter minus the margin", () => {
    assert.equal(lifetimeRenewalAt(0, 6 * DAY, at(0.5)), 3 * DAY);
    assert.equal(lifetimeRenewalAt(0, 10 * DAY, at(0.5)), 5 * DAY);
    assert.equal(lifetimeRenewalAt(0, 11 * DAY, at(0.5)), (11 * DAY * 2) / 3);
    assert.equal(expiryMargin(90 * DAY), DAY);
    assert.equal(expiryMargin(6 * HOUR), 0.6 * HOUR);
    // Even the latest jitter of a 7-hour certificate stays before notAfter - margin.
    assert.ok(lifetimeRenewalAt(0, 7 * HOUR, at(0.999)) <= 7 * HOUR - expiryMargin(7 * HOUR));
  });

  test("ARI: uniform in the window, now when it has passed; rechecked at Retry-After or 6 h", () => {
    assert.equal(ariRenewalAt({ start: 1000, end: 2000 }, 0, at(0)), 1000);
    assert.equal(ariRenewalAt({ start: 1000, end: 2000 }, 0, at(0.5)), 1500);
    assert.equal(ariRenewalAt({ start: 1000, end: 2000 }, 1500, at(0.5)), 1750, "the part still ahead");
    assert.equal(ariRenewalAt({ start: 1000, end: 2000 }, 5000, at(0.5)), 5000);
    assert.equal(ariRecheckAt(100), 100 + 6 * HOUR);
    assert.equal(ariRecheckAt(100, 21_600_000 / 2), 100 + 3 * HOUR);
  });

  test("backoff: 1 min doubling to 6 h, jitter within ±20%, capped", () => {
    assert.equal(backoffDelay(1, at(0.5)), 60_000);
    assert.equal(backoffDelay(2, at(0.5)), 120_000);
    assert.equal(backoffDelay(10, at(0.5)), BACKOFF_MAX_MS);
    assert.equal(backoffDelay(100, at(0.99)), BACKOFF_MAX_MS);
    assert.equal(backoffDelay(1, at(0)), 48_000);
    assert.ok(backoffDelay(1, at(0.999)) < 72_000);
  });

  test("Retry-After wins; rateLimited waits at least 1 h; else backoff", () => {
    assert.deepEqual(retryPlan(0, 1, { retryAfterMs: 30_000 }, at(0.5)), {
      at: 30_000,
      reason: "retry-after",
    });
    assert.deepEqual(retryPlan(0, 1, { rateLimited: true }, at(0.5)), { at: HOUR, reason: "retry-after" });
    assert.deepEqual(retryPlan(0, 3, {}, at(0.5)), { at: 240_000, reason: "retry-backoff" });
  });

  test("armTimer re-arms delays over 2^31-1 ms and fires once, on time", async () => {
    const clock = new FakeClock(0);
    let fired = 0;
    armTimer(clock, 3 * MAX_TIMER_MS + 5, () => fired++);
    assert.deepEqual(
      [...clock.timers.values()].map((t) => t.ms),
      [MAX_TIMER_MS],
    );
    await clock.advanceTo(3 * MAX_TIMER_MS + 4);
    assert.equal(fired, 0);
    await clock.advanceTo(3 * MAX_TIMER_MS + 5);
    assert.equal(fired, 1);
    const cancel = armTimer(clock, clock.now() + 10, () => fired++);
    cancel();
    await clock.advanceTo(clock.now() + 100);
    assert.equal(fired, 1, "cancelled");
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { type Deadlined, DeadlineQueue } from "./deadlines.ts";

const item = (name: string) =>
  ({ name, deadlineAt: 0, deadlinePrev: null, deadlineNext: null, deadlineList: null }) as Deadlined & {
    name: string;
  };

test("DeadlineQueue expires in time order across timeout lengths, skips disarmed items, re-arms", () => {
  const q = new DeadlineQueue();
  const [a, b, c, d] = ["a", "b", "c", "d"].map(item) as [
    ReturnType<typeof item>,
    ReturnType<typeof item>,
    ReturnType<typeof item>,
    ReturnType<typeof item>,
  ];
  q.arm(a, 0, 10_000);
  q.arm(b, 100, 10_000);
  q.arm(c, 200, 500);
  q.arm(d, 300, 10_000);
  assert.equal(q.next(), 700);
  q.disarm(b);
  q.disarm(b); // twice is harmless
  const fired: string[] = [];
  q.expire<ReturnType<typeof item>>(700, (x) => fired.push(x.name));
  assert.deepEqual(fired, ["c"]);
  assert.equal(q.next(), 10_000);
  q.arm(a, 5000, 500); // re-armed: leaves its old list
  q.expire<ReturnType<typeof item>>(10_000, (x) => fired.push(x.name));
  assert.deepEqual(fired, ["c", "a"]);
  assert.equal(q.next(), 10_300);
  q.expire<ReturnType<typeof item>>(20_000, (x) => fired.push(x.name));
  assert.deepEqual(fired, ["c", "a", "d"]);
  assert.equal(q.next(), undefined);
  assert.equal(a.deadlineList, null);
});

/**
 * Deadlines for many connections with one timer: one intrusive FIFO list per timeout length.
 * Entries of one list are added in time order, so each list is sorted by itself; arming,
 * disarming and expiring are O(1) per entry, and the next deadline is the earliest list head
 * (there are only as many lists as distinct timeout lengths in the config). A connection that
 * leaves a phase is unlinked at once, so nothing holds a closed connection until its deadline.
 *
 * @module deadlines
 */

/** An item with one deadline at a time (the fields are the queue's). */
export interface Deadlined {
  deadlineAt: number;
  deadlinePrev: Deadlined | null;
  deadlineNext: Deadlined | null;
  deadlineList: DeadlineList | null;
}

/** One list: all deadlines of one timeout length, earliest first. */
export interface DeadlineList {
  head: Deadlined | null;
  tail: Deadlined | null;
}

/**
 * A set of deadlines, one per item.
 *
 * @example
 * ```ts
 * import { DeadlineQueue } from "@alpnmux/core";
 * const q = new DeadlineQueue();
 * const conn = { deadlineAt: 0, deadlinePrev: null, deadlineNext: null, deadlineList: null };
 * q.arm(conn, 1000, 10_000);
 * q.next(); // 11000
 * q.expire(11_000, (c) => console.log("timed out", c));
 * ```
 */
export class DeadlineQueue {
  readonly #lists = new Map<number, DeadlineList>();

  /**
   * Sets an item's deadline to `now + ms` (replacing any earlier one).
   * @param item The item.
   * @param now The current time in ms.
   * @param ms How long from now.
   */
  arm(item: Deadlined, now: number, ms: number): void {
    this.disarm(item);
    let list = this.#lists.get(ms);
    if (list === undefined) {
      list = { head: null, tail: null };
      this.#lists.set(ms, list);
    }
    item.deadlineAt = now + ms;
    item.deadlineList = list;
    item.deadlinePrev = list.tail;
    item.deadlineNext = null;
    if (list.tail) list.tail.deadlineNext = item;
    else list.head = item;
    list.tail = item;
  }

  /**
   * Removes an item's deadline, if any.
   * @param item The item.
   */
  disarm(item: Deadlined): void {
    const list = item.deadlineList;
    if (list === null) return;
    if (item.deadlinePrev) item.deadlinePrev.deadlineNext = item.deadlineNext;
    else list.head = item.deadlineNext;
    if (item.deadlineNext) item.deadlineNext.deadlinePrev = item.deadlinePrev;
    else list.tail = item.deadlinePrev;
    item.deadlineList = null;
    item.deadlinePrev = null;
    item.deadlineNext = null;
  }

  /** @returns The earliest deadline, or `undefined` when none is armed. */
  next(): number | undefined {
    let min: number | undefined;
    for (const list of this.#lists.values()) {
      const at = list.head?.deadlineAt;
      if (at !== undefined && (min === undefined || at < min)) min = at;
    }
    return min;
  }

  /**
   * Disarms every item whose deadline is at or before `now` and calls `fire` for each.
   * @param now The current time in ms.
   * @param fire Called once per expired item (after it was disarmed).
   */
  expire<T extends Deadlined>(now: number, fire: (item: T) => void): void {
    for (const list of this.#lists.values()) {
      while (list.head !== null && list.head.deadlineAt <= now) {
        const item = list.head;
        this.disarm(item);
        fire(item as T);
      }
    }
  }
}

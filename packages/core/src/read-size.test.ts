import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_READ_BYTES, MIN_READ_BYTES, nextReadSize } from "./read-size.ts";

describe("nextReadSize()", () => {
  test("a full read grows the buffer 4x, up to 256 KiB", () => {
    const sizes = [MIN_READ_BYTES];
    for (let i = 0; i < 8; i++) sizes.push(nextReadSize(sizes.at(-1) as number, sizes.at(-1) as number));
    assert.deepEqual(sizes, [1024, 4096, 16384, 65536, 262144, 262144, 262144, 262144, 262144]);
  });
  test("a read under 1/8 of the buffer shrinks it 4x, never under 1 KiB", () => {
    assert.equal(nextReadSize(100, MAX_READ_BYTES), 65536);
    assert.equal(nextReadSize(100, 4096), 1024);
    assert.equal(nextReadSize(10, MIN_READ_BYTES), MIN_READ_BYTES);
  });
  test("a read between 1/8 and the whole buffer keeps it", () => {
    assert.equal(nextReadSize(4096 / 8, 4096), 4096);
    assert.equal(nextReadSize(4095, 4096), 4096);
    assert.equal(nextReadSize(517, MIN_READ_BYTES), MIN_READ_BYTES);
  });
});

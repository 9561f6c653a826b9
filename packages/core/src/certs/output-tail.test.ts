import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { captureOutput, createOutputTail, drainInto, OUTPUT_BYTES } from "./output-tail.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** A stream that yields `chunks` and then stays open until cancelled (a pipe a background child holds). */
function openStream(chunks: string[]): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (const s of chunks) c.enqueue(enc(s));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

describe("createOutputTail()", () => {
  test("keeps everything below the limit, in order", () => {
    const t = createOutputTail(16);
    t.push(enc("ab"));
    t.push(enc("cd"));
    assert.equal(t.text(), "abcd");
  });

  test("keeps only the last maxBytes, cutting inside a chunk", () => {
    const t = createOutputTail(5);
    for (const s of ["0123", "4567", "89"]) t.push(enc(s));
    assert.equal(t.text(), "56789");
  });

  test("a single chunk larger than the limit keeps its end", () => {
    const t = createOutputTail();
    t.push(enc(`${"a".repeat(OUTPUT_BYTES)}END`));
    const text = t.text();
    assert.equal(text.length, OUTPUT_BYTES);
    assert.ok(text.endsWith("END"));
  });

  test("empty when nothing was pushed", () => {
    assert.equal(createOutputTail().text(), "");
  });
});

describe("drainInto()", () => {
  test("reads a stream to EOF", async () => {
    const t = createOutputTail();
    await drainInto(new Blob(["one ", "two"]).stream(), t).done;
    assert.equal(t.text(), "one two");
  });

  test("a broken pipe keeps what arrived and settles", async () => {
    const t = createOutputTail();
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(enc("partial"));
        c.error(new Error("EPIPE"));
      },
    });
    await drainInto(stream, t).done;
    assert.equal(t.text(), "partial");
  });
});

describe("captureOutput()", () => {
  test("both pipes go into one tail", async () => {
    const text = await captureOutput([new Blob(["out"]).stream(), new Blob(["err"]).stream()]).finish();
    assert.equal(text.length, 6);
    assert.ok(text.includes("out") && text.includes("err"));
  });

  test("a pipe still open after the grace is cancelled; what arrived is returned", async () => {
    const held = openStream(["bg "]);
    const out = captureOutput([held.stream, new Blob(["done"]).stream()]);
    const t0 = Date.now();
    const text = await out.finish(50);
    assert.ok(Date.now() - t0 < 2000, "finish waited past the grace");
    assert.ok(held.cancelled(), "the open pipe was not cancelled");
    assert.ok(text.includes("bg ") && text.includes("done"), text);
  });

  test("keeps the last maxBytes across pipes", async () => {
    const text = await captureOutput([new Blob(["x".repeat(10_000)]).stream()], 100).finish();
    assert.equal(text, "x".repeat(100));
  });
});

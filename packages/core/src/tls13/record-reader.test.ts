import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TlsAlert } from "./alerts.ts";
import { HandshakeReader, RecordReader } from "./record-reader.ts";

const isAlert = (code: string) => (e: unknown) => e instanceof TlsAlert && e.code === code;

describe("RecordReader", () => {
  test("returns records only when whole, across any split", () => {
    const stream = Uint8Array.of(22, 3, 1, 0, 2, 9, 9, 20, 3, 3, 0, 1, 1);
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new RecordReader();
      r.push(stream.subarray(0, cut));
      const got = [];
      for (let x = r.next(); x !== null; x = r.next()) got.push(x);
      r.push(stream.subarray(cut));
      for (let x = r.next(); x !== null; x = r.next()) got.push(x);
      assert.deepEqual(
        got.map((x) => [x.type, [...x.fragment]]),
        [
          [22, [9, 9]],
          [20, [1]],
        ],
      );
      assert.equal(r.buffered, 0);
    }
  });

  test("rejects unknown content types and versions", () => {
    const r = new RecordReader();
    r.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
    assert.throws(() => r.next(), isAlert("unexpectedMessage"));
    const v = new RecordReader();
    v.push(Uint8Array.of(22, 2, 0));
    assert.throws(() => v.next(), isAlert("unexpectedMessage"));
  });

  test("rejects a length above 2^14 + 256 before the body arrives", () => {
    const r = new RecordReader();
    r.push(Uint8Array.of(23, 3, 3, 0x41, 0x01));
    assert.throws(() => r.next(), isAlert("recordOverflow"));
  });
});

describe("HandshakeReader", () => {
  test("reassembles a message spread over fragments and splits coalesced ones", () => {
    const h = new HandshakeReader();
    h.push(Uint8Array.of(20, 0, 0));
    assert.equal(h.next(), null);
    h.push(Uint8Array.of(2, 7));
    assert.equal(h.next(), null);
    h.push(Uint8Array.of(8, 1, 0, 0, 0));
    assert.deepEqual([...(h.next() ?? [])], [20, 0, 0, 2, 7, 8]);
    assert.deepEqual([...(h.next() ?? [])], [1, 0, 0, 0]);
    assert.equal(h.empty, true);
  });

  test("rejects a declared length above the cap", () => {
    const h = new HandshakeReader(100);
    h.push(Uint8Array.of(1, 0, 0, 101));
    assert.throws(() => h.next(), isAlert("decodeError"));
  });
});

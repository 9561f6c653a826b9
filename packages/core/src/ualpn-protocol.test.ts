import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryChallengeStore } from "./challenge-store.ts";
import { parseUalpnLine, UALPN_AUTH_TTL_MS, UALPN_MAX_LINE_BYTES, UalpnSession } from "./ualpn-protocol.ts";

// base64url(SHA-256("tok.thumb")), what uacme passes to ualpn.sh as AUTH.
const DIGEST = "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y";
const USAGE = "ERR usage: auth <ident> <auth> | unauth <ident>";
const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(now = () => 1_000_000) {
  const store = new MemoryChallengeStore({ now });
  const session = new UalpnSession({ store });
  const send = async (s: string | Uint8Array) => {
    const out = await session.receive(typeof s === "string" ? enc.encode(s) : s);
    return { text: dec.decode(out.bytes), close: out.close, events: out.events };
  };
  return { store, session, send };
}

describe("UalpnSession", () => {
  test("auth stores the digest for 1 hour and answers OK; unauth removes it", async () => {
    let t = 1_000_000;
    const { store, send } = setup(() => t);
    assert.deepEqual(await send(`auth A.Example.TEST ${DIGEST}\n`), {
      text: "OK\n",
      close: false,
      events: [{ command: "auth", identifier: "a.example.test", reply: "OK" }],
    });
    assert.deepEqual(await store.get("a.example.test"), {
      identifier: "a.example.test",
      keyAuthorization: DIGEST,
      expiresAt: t + UALPN_AUTH_TTL_MS,
    });
    assert.equal((await send("unauth a.example.test\n")).text, "OK\n");
    assert.equal(await store.get("a.example.test"), undefined);
    assert.equal((await send("unauth a.example.test\n")).text, "ERR not found\n");
    await send(`auth b.example.test ${DIGEST}\n`);
    t += UALPN_AUTH_TTL_MS;
    assert.equal(await store.get("b.example.test"), undefined, "expired after an hour, as in ualpn");
  });

  test("a repeated identical auth is OK (ualpn says ERR already inserted), a new digest replaces", async () => {
    const { store, send } = setup();
    assert.equal((await send(`auth a.example.test ${DIGEST}\n`)).text, "OK\n");
    assert.equal((await send(`auth a.example.test ${DIGEST}\n`)).text, "OK\n");
    const other = `${"A".repeat(42)}E`;
    assert.equal((await send(`auth a.example.test ${other}\n`)).text, "OK\n");
    assert.equal((await store.get("a.example.test"))?.keyAuthorization, other);
  });

  test("IP identifiers are stored under the address; reverse-DNS names map to it (RFC 8738)", async () => {
    const { store, send } = setup();
    assert.equal((await send(`auth 127.0.0.1 ${DIGEST}\n`)).text, "OK\n");
    assert.equal((await send(`auth 2001:DB8::0:1 ${DIGEST}\n`)).text, "OK\n");
    assert.equal((await send(`auth 4.3.2.1.in-addr.arpa ${DIGEST}\n`)).text, "OK\n");
    assert.deepEqual((await store.list()).map((e) => e.identifier).sort(), [
      "1.2.3.4",
      "127.0.0.1",
      "2001:db8::1",
    ]);
    assert.equal((await send("unauth 1.0.0.127.in-addr.arpa\n")).text, "OK\n");
  });

  test("ERR replies in ualpn's words", async () => {
    const { store, send } = setup();
    const cases: [string, string][] = [
      ["", USAGE],
      ["   ", USAGE],
      ["hello a.example.test", USAGE],
      ["AUTH a.example.test x", USAGE],
      ["auth", "ERR invalid ident"],
      [`auth *.example.test ${DIGEST}`, "ERR invalid ident"],
      [`auth exa_mple.test ${DIGEST}`, "ERR invalid ident"],
      [`auth ${"a".repeat(251)} ${DIGEST}`, "ERR invalid ident"],
      [`auth a..example.test ${DIGEST}`, "ERR invalid ident"],
      [`auth host.123 ${DIGEST}`, "ERR invalid ident"],
      [`auth [::1] ${DIGEST}`, "ERR invalid ident"],
      ["auth a.example.test", "ERR invalid auth"],
      ["auth a.example.test tok.thumb", "ERR invalid auth"],
      [`auth a.example.test ${DIGEST.slice(1)}`, "ERR invalid auth"],
      [`auth a.example.test ${DIGEST.slice(0, -1)}Z`, "ERR invalid auth"],
      [`auth a.example.test ${DIGEST}=`, "ERR invalid auth"],
      [
        "auth a.example.test b1:80:30:56:ba:83:b5:53:ae:25:9b:c0:1e:ea:d2:01:83:e8:12:de:5f:15:5f:c2:e1:b7:52:38:e5:be:a3:96",
        "ERR invalid auth",
      ],
      ["unauth", "ERR invalid ident"],
      ["unauth a.example.test extra", "ERR too many parameters"],
    ];
    for (const [line, reply] of cases) {
      assert.equal((await send(`${line}\n`)).text, `${reply}\n`, JSON.stringify(line));
    }
    assert.deepEqual(await store.list(), []);
  });

  test("tabs and runs of spaces separate words; words after the digest are ignored, as in ualpn", async () => {
    const { store, send } = setup();
    assert.equal((await send(`\tauth  \t a.example.test ${DIGEST} trailing words\n`)).text, "OK\n");
    assert.equal((await store.get("a.example.test"))?.keyAuthorization, DIGEST);
  });

  test("a CR before the LF is dropped", async () => {
    const { send } = setup();
    assert.equal((await send(`auth a.example.test ${DIGEST}\r\nunauth a.example.test\r\n`)).text, "OK\nOK\n");
  });

  test("partial lines wait for their newline, byte by byte or split anywhere", async () => {
    const { store, send } = setup();
    const line = `auth a.example.test ${DIGEST}\n`;
    const bytes = enc.encode(line);
    for (let i = 0; i < bytes.length - 1; i++) {
      const r = await send(bytes.subarray(i, i + 1));
      assert.equal(r.text, "", `no reply before the newline (byte ${i})`);
    }
    assert.equal((await send(bytes.subarray(bytes.length - 1))).text, "OK\n");
    assert.equal((await store.get("a.example.test"))?.keyAuthorization, DIGEST);
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = setup();
      const a = await s.send(bytes.subarray(0, cut));
      const b = await s.send(bytes.subarray(cut));
      assert.equal(a.text + b.text, "OK\n", `cut at ${cut}`);
    }
  });

  test("several lines in one chunk get their replies in order", async () => {
    const { send } = setup();
    const r = await send(
      `auth a.example.test ${DIGEST}\nunauth a.example.test\nunauth a.example.test\nnope\n`,
    );
    assert.equal(r.text, `OK\nOK\nERR not found\n${USAGE}\n`);
    assert.deepEqual(
      r.events.map((e) => e.command),
      ["auth", "unauth", "unauth", "nope"],
    );
  });

  test("calls not awaited are still handled in order, even with a slow store", async () => {
    const order: string[] = [];
    const store = {
      set: async (id: string) => {
        await new Promise((r) => setTimeout(r, 20));
        order.push(`set ${id}`);
      },
      delete: async (id: string) => {
        order.push(`delete ${id}`);
        return true;
      },
    };
    const session = new UalpnSession({ store });
    const a = session.receive(enc.encode(`auth a.example.test ${DIGEST}\n`));
    const b = session.receive(enc.encode("unauth a.example.test\n"));
    assert.deepEqual([dec.decode((await a).bytes), dec.decode((await b).bytes)], ["OK\n", "OK\n"]);
    assert.deepEqual(order, ["set a.example.test", "delete a.example.test"]);
  });

  test(`a line of ${UALPN_MAX_LINE_BYTES} bytes is read; one more byte is ERR too long and closes`, async () => {
    const pad = (n: number) => `unauth a.example.test${" ".repeat(n - "unauth a.example.test".length)}`;
    const ok = setup();
    assert.equal((await ok.send(`${pad(UALPN_MAX_LINE_BYTES)}\n`)).text, "ERR not found\n");
    const long = setup();
    const r = await long.send(`${pad(UALPN_MAX_LINE_BYTES + 1)}\n`);
    assert.deepEqual([r.text, r.close], ["ERR too long\n", true]);
    assert.equal(long.session.closed, true);
    assert.deepEqual(await long.send(`auth a.example.test ${DIGEST}\n`), {
      text: "",
      close: true,
      events: [],
    });
    assert.deepEqual(await long.store.list(), []);
  });

  test("a long line is refused as soon as it passes the limit, without waiting for its newline", async () => {
    const { send, session } = setup();
    assert.equal((await send("x".repeat(300))).text, "");
    const r = await send("x".repeat(300));
    assert.deepEqual([r.text, r.close, session.closed], ["ERR too long\n", true, true]);
  });

  test("complete lines before a too long one are answered first", async () => {
    const { send } = setup();
    const r = await send(`nope\n${"x".repeat(600)}`);
    assert.deepEqual([r.text, r.close], [`${USAGE}\nERR too long\n`, true]);
  });

  test("a failing store answers ERR challenge store unavailable with the reason on one line", async () => {
    const session = new UalpnSession({
      store: {
        set: async () => {
          throw new Error("Redis timeout\r\nafter 2000 ms");
        },
        delete: async () => {
          throw new Error("connection refused");
        },
      },
    });
    const r = await session.receive(enc.encode(`auth a.example.test ${DIGEST}\nunauth a.example.test\n`));
    assert.equal(
      dec.decode(r.bytes),
      "ERR challenge store unavailable: Redis timeout after 2000 ms\nERR challenge store unavailable: connection refused\n",
    );
    assert.equal(r.close, false);
  });

  test("bytes that are not UTF-8 are an invalid ident, not an exception", async () => {
    const { send } = setup();
    const r = await send(new Uint8Array([...enc.encode("auth "), 0xff, 0xfe, ...enc.encode(` ${DIGEST}\n`)]));
    assert.equal(r.text, "ERR invalid ident\n");
  });

  test("the caller may reuse its buffer after receive()", async () => {
    const { send } = setup();
    const buf = enc.encode("unauth a.example.");
    const pending = send(buf);
    buf.fill(0x41);
    await pending;
    assert.equal((await send("test\n")).text, "ERR not found\n");
  });
});

describe("parseUalpnLine()", () => {
  test("parses auth and unauth", () => {
    assert.deepEqual(parseUalpnLine(`auth a.example.test ${DIGEST}`), {
      kind: "auth",
      identifier: "a.example.test",
      digest: DIGEST,
    });
    assert.deepEqual(parseUalpnLine("unauth 127.0.0.1"), { kind: "unauth", identifier: "127.0.0.1" });
    assert.deepEqual(parseUalpnLine("x"), { kind: "error", command: "x", reply: USAGE });
  });
});

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeUnix } from "../testing/fake-unix.ts";
import { MemoryChallengeStore } from "./challenge-store.ts";
import { serveUalpnSocket } from "./ualpn-socket.ts";

const PATH = "/run/ualpn.sock";
const DIGEST = "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y";

async function setup(idleTimeoutMs = 0) {
  const unix = new FakeUnix();
  const store = new MemoryChallengeStore();
  const server = await serveUalpnSocket({
    unix,
    path: PATH,
    mode: 0o600,
    store,
    ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
  });
  return { unix, store, server };
}

describe("serveUalpnSocket()", () => {
  test("what ualpn's client does: one line, one reply line on the open connection", async () => {
    const { unix, store, server } = await setup();
    const c = unix.connect(PATH);
    c.send(`auth a.example.test ${DIGEST}\n`);
    assert.equal(await c.waitText((t) => t.endsWith("\n")), "OK\n");
    assert.equal(c.closed, false, "the connection stays open for more commands");
    c.send("unauth a.example.test\n");
    assert.equal(await c.waitText((t) => t.split("\n").length === 3), "OK\nOK\n");
    assert.equal(await store.get("a.example.test"), undefined);
    await server.close();
  });

  test("a half-close gets the replies to what was sent, then the close; a partial line is dropped", async () => {
    const { unix, store, server } = await setup();
    const c = unix.connect(PATH);
    c.send(`auth a.example.test ${DIGEST}\nauth b.example.test ${DIGEST}`);
    c.end();
    await c.done;
    assert.equal(c.text(), "OK\n");
    assert.deepEqual(
      (await store.list()).map((e) => e.identifier),
      ["a.example.test"],
    );
    await server.close();
  });

  test("a too long line is answered ERR too long and the connection closed", async () => {
    const { unix, server } = await setup();
    const c = unix.connect(PATH);
    c.send("y".repeat(1000));
    await c.done;
    assert.equal(c.text(), "ERR too long\n");
    await server.close();
  });

  test("an idle connection is closed after the timeout", async () => {
    const { unix, server } = await setup(50);
    const c = unix.connect(PATH);
    const t0 = Date.now();
    c.send("unauth a.exa");
    await c.done;
    assert.ok(Date.now() - t0 >= 40, `closed after ${Date.now() - t0} ms`);
    assert.equal(c.text(), "");
    await server.close();
  });

  test("the store the socket writes is the one given (what the responder reads)", async () => {
    const { unix, store, server } = await setup();
    const c = unix.connect(PATH);
    c.send(`auth 127.0.0.1 ${DIGEST}\n`);
    await c.waitText((t) => t === "OK\n");
    assert.equal((await store.get("127.0.0.1"))?.keyAuthorization, DIGEST);
    await server.close();
    assert.equal(unix.files.has(PATH), false);
  });
});

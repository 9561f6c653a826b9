import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeUnix } from "../testing/fake-unix.ts";
import { lookupUnixId, serveUnixSocket, type UnixConnection, UnixSocketError } from "./unix-socket.ts";

const PATH = "/run/test.sock";
const echo = (conn: UnixConnection) => ({ data: (b: Uint8Array) => conn.write(b), end: () => conn.close() });
const refused = (code: string, message?: RegExp) => (e: unknown) =>
  e instanceof UnixSocketError &&
  e.code === code &&
  e.path === PATH &&
  e.message.startsWith(`Cannot serve unix socket ${PATH}: `) &&
  (message === undefined || message.test(e.message));

describe("serveUnixSocket()", () => {
  test("listens, sets the mode before serving, and removes the file at close", async () => {
    const unix = new FakeUnix();
    const server = await serveUnixSocket(unix, { path: PATH, mode: 0o600 }, echo);
    assert.equal(unix.files.get(PATH)?.mode, 0o600);
    assert.deepEqual(unix.calls, [`kind ${PATH}`, `listen ${PATH}`, `chmod ${PATH} 600`]);
    const c = unix.connect(PATH);
    c.send("hi");
    assert.equal(c.text(), "hi");
    await server.close();
    assert.equal(unix.listening(PATH), false);
    assert.equal(unix.files.has(PATH), false);
    await server.close(); // idempotent, never throws
  });

  test("a stale socket file (nobody listening) is replaced", async () => {
    const unix = new FakeUnix();
    unix.files.set(PATH, { kind: "socket", mode: 0o777, uid: 5, gid: 5 });
    await serveUnixSocket(unix, { path: PATH, mode: 0o660 }, echo);
    assert.deepEqual(unix.calls.slice(0, 4), [
      `kind ${PATH}`,
      `accepts ${PATH}`,
      `remove ${PATH}`,
      `listen ${PATH}`,
    ]);
    assert.equal(unix.files.get(PATH)?.mode, 0o660);
  });

  test("a socket somebody listens on is refused and left alone", async () => {
    const unix = new FakeUnix();
    unix.files.set(PATH, { kind: "socket", mode: 0o600, uid: 0, gid: 0 });
    unix.foreign.add(PATH);
    await assert.rejects(
      serveUnixSocket(unix, { path: PATH, mode: 0o600 }, echo),
      refused("in-use", /listens on it/),
    );
    assert.ok(!unix.calls.some((c) => c.startsWith("remove")));
  });

  test("a file that is not a socket is refused and left alone", async () => {
    const unix = new FakeUnix();
    unix.files.set(PATH, { kind: "other", mode: 0o644, uid: 0, gid: 0 });
    await assert.rejects(serveUnixSocket(unix, { path: PATH, mode: 0o600 }, echo), refused("not-a-socket"));
    assert.deepEqual(unix.calls, [`kind ${PATH}`]);
    assert.equal(unix.files.get(PATH)?.kind, "other");
  });

  test("owner and group by name or id are looked up, then set with chown", async () => {
    const unix = new FakeUnix();
    const files: Record<string, string> = {
      "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nalpnmux:x:990:990::/:/usr/sbin/nologin\n",
      "/etc/group": "root:x:0:\nacme:x:998:alice,bob\n",
    };
    const readFile = (p: string) => files[p] ?? "";
    await serveUnixSocket(unix, { path: PATH, mode: 0o660, owner: "alpnmux", group: "acme", readFile }, echo);
    assert.deepEqual(unix.files.get(PATH), { kind: "socket", mode: 0o660, uid: 990, gid: 998 });
    const other = new FakeUnix();
    await serveUnixSocket(other, { path: PATH, mode: 0o660, group: "1234" }, echo);
    assert.ok(other.calls.includes(`chown ${PATH} null 1234`), other.calls.join());
  });

  test("an unknown owner or group is refused before anything is touched", async () => {
    const unix = new FakeUnix();
    const readFile = () => "root:x:0:\n";
    await assert.rejects(
      serveUnixSocket(unix, { path: PATH, mode: 0o660, group: "acme", readFile }, echo),
      refused("unknown-group", /no group "acme" in \/etc\/group \(give a numeric id\)/),
    );
    await assert.rejects(
      serveUnixSocket(unix, { path: PATH, mode: 0o660, owner: "nobody" }, echo),
      refused("unknown-user", /cannot read \/etc\/passwd/),
    );
    assert.deepEqual(unix.calls, []);
  });

  test("when the mode cannot be set, the listener closes and the file goes", async () => {
    const unix = new FakeUnix();
    unix.chmodFails.add(PATH);
    await assert.rejects(
      serveUnixSocket(unix, { path: PATH, mode: 0o600 }, echo),
      refused("permissions-failed", /EPERM/),
    );
    assert.equal(unix.listening(PATH), false);
    assert.equal(unix.files.has(PATH), false);
  });

  test("a connection accepted before the mode is set is closed, not served", async () => {
    const unix = new FakeUnix();
    let early: ReturnType<FakeUnix["connect"]> | undefined;
    const chmod = unix.chmod.bind(unix);
    unix.chmod = async (p, m) => {
      early = unix.connect(p); // a client racing the chmod
      await chmod(p, m);
    };
    let served = 0;
    await serveUnixSocket(unix, { path: PATH, mode: 0o600 }, (conn) => {
      served++;
      return echo(conn);
    });
    assert.equal(early?.closed, true);
    assert.equal(served, 0);
    unix.connect(PATH);
    assert.equal(served, 1);
  });

  test("a listen failure names the path", async () => {
    const unix = new FakeUnix();
    unix.listen = async () => {
      throw new Error("EACCES: permission denied");
    };
    await assert.rejects(
      serveUnixSocket(unix, { path: PATH, mode: 0o600 }, echo),
      refused("listen-failed", /EACCES/),
    );
  });
});

describe("lookupUnixId()", () => {
  test("numbers and digit strings are ids; names are looked up; unknown names are null", () => {
    const table = () => "root:x:0:\nacme:x:998:alice\n# comment\nbroken\n";
    assert.equal(lookupUnixId(7, table), 7);
    assert.equal(
      lookupUnixId("42", () => assert.fail("not read for an id")),
      42,
    );
    assert.equal(lookupUnixId("acme", table), 998);
    assert.equal(lookupUnixId("root", table), 0);
    assert.equal(lookupUnixId("alice", table), null);
    assert.equal(lookupUnixId("broken", table), null);
  });
});

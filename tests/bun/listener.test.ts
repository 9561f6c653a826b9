/**
 * @module listener.test — the Bun adapter used as a library (`serve()`), in-process on Bun:
 * routing to two backends, byte-exact splicing with half-close, a PROXY v2 header, the hello
 * timeout, and the built-in responder answering a real TLS client. Run with `bun test tests/bun`.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import { after, describe, test } from "node:test";
import tls from "node:tls";
import { serve } from "@alpnmux/bun-listener";
import { parseConfig, type RouterConfigInput } from "@alpnmux/core";
import { createInstance } from "@alpnmux/core/app";
import { decodeProxyHeader } from "../../packages/core/testing/proxy-protocol-decoder.ts";

const hellos = new URL("../../packages/core/src/_testdata/hellos/", import.meta.url);
const hello = (name: string) => readFileSync(new URL(`${name}.bin`, hellos));

/** A backend that records what it receives; replies `reply(data)` at the client's EOF. */
function backend(reply?: (data: Buffer) => Buffer | string) {
  const got: Buffer[] = [];
  let resolveEnd: (b: Buffer) => void = () => {};
  const ended = new Promise<Buffer>((r) => (resolveEnd = r));
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on("data", (d) => chunks.push(d));
    s.on("end", () => {
      const all = Buffer.concat(chunks);
      got.push(all);
      if (reply) s.end(reply(all));
      else s.end();
      resolveEnd(all);
    });
    s.on("error", () => {});
  });
  const ready = new Promise<number>((r) =>
    server.listen(0, "127.0.0.1", () => r((server.address() as net.AddressInfo).port)),
  );
  after(() => server.close());
  return { ready, got, ended, server };
}

async function start(input: Partial<RouterConfigInput>) {
  const config = parseConfig({ listen: ["127.0.0.1:0"], helloTimeout: "500ms", default: "reject", ...input });
  const { router } = createInstance({ config });
  const server = serve({ config, router });
  after(() => server.stop(0));
  return { server, port: server.addresses[0]?.port as number };
}

/** A router with the built-in responder and a challenge stored for a.example.test. */
async function startBuiltin(helloTimeout: string) {
  const config = parseConfig({
    listen: ["127.0.0.1:0"],
    helloTimeout,
    routes: [{ name: "acme", match: { acme: "exact" }, target: { acme: "builtin" } }],
    default: "reject",
    admin: { listen: "127.0.0.1:9", token: "0123456789abcdef0123" },
  });
  const { router, store } = createInstance({ config });
  const server = serve({ config, router });
  after(() => server.stop(0));
  await store.set("a.example.test", "tok.thumb");
  return { server, router };
}

/** Writes `bytes`, half-closes, and collects the reply until the router closes. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => {
      s.write(bytes);
      s.end();
    });
    s.on("data", (d) => chunks.push(d));
    s.on("close", () => resolve(Buffer.concat(chunks)));
    s.on("error", reject);
  });
}

describe("serve() on Bun", () => {
  test("routes acme-tls/1 and other hellos to their backends, byte-exact both ways with half-close", async () => {
    const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    const acme = backend((d) => `acme:${sha(d)}`);
    const web = backend((d) => `web:${sha(d)}`);
    const { port } = await start({
      routes: [
        { name: "acme", match: { acme: "exact" }, target: { upstream: `127.0.0.1:${await acme.ready}` } },
      ],
      default: { upstream: `127.0.0.1:${await web.ready}` },
    });
    const big = Buffer.concat([hello("curl-http2"), randomBytes(8 << 20)]);
    assert.equal((await exchange(port, big)).toString(), `web:${sha(big)}`);
    const v = Buffer.concat([hello("go-pebble-va"), Buffer.from("after the hello")]);
    assert.equal((await exchange(port, v)).toString(), `acme:${sha(v)}`);
  });

  test("writes a PROXY v2 header with SNI and ALPN TLVs before the hello", async () => {
    const web = backend(() => "ok");
    const { port } = await start({
      default: { upstream: `127.0.0.1:${await web.ready}`, proxy: "v2", tlvs: ["authority", "alpn"] },
    });
    const h = hello("curl-http2");
    assert.equal((await exchange(port, h)).toString(), "ok");
    const data = new Uint8Array(await web.ended);
    const header = decodeProxyHeader(data);
    assert.equal(header.kind, "header");
    if (header.kind !== "header") return;
    assert.equal(header.source?.address, "127.0.0.1");
    assert.equal(header.destination?.port, port);
    const tlv = (t: number) => new TextDecoder().decode(header.tlvs.find((x) => x.type === t)?.value);
    assert.equal(tlv(0x02), "a.example.test");
    assert.equal(tlv(0x01), "h2");
    assert.deepEqual(Buffer.from(data.subarray(header.length)), h);
  });

  test("closes a silent client at the hello timeout without dialing", async () => {
    const web = backend();
    let dialed = 0;
    web.server.on("connection", () => dialed++);
    const { port } = await start({ default: { upstream: `127.0.0.1:${await web.ready}` } });
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" }, () => s.write(hello("curl-http2").subarray(0, 20)));
      s.on("close", () => resolve());
      s.on("error", () => {});
    });
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 3000, `closed after ${took} ms`);
    assert.equal(dialed, 0);
  });

  test("the built-in responder completes a real TLS 1.3 handshake with acme-tls/1", async () => {
    const { server, router } = await startBuiltin("10s");
    assert.equal(router.active, 0);
    const seen = await new Promise<{ alpn: string | false | null; san: string | undefined }>(
      (resolve, reject) => {
        const s = tls.connect(
          {
            port: server.addresses[0]?.port as number,
            host: "127.0.0.1",
            servername: "a.example.test",
            ALPNProtocols: ["acme-tls/1"],
            rejectUnauthorized: false,
          },
          () => resolve({ alpn: s.alpnProtocol, san: s.getPeerCertificate().subjectaltname }),
        );
        s.on("error", reject);
      },
    );
    assert.equal(seen.alpn, "acme-tls/1");
    assert.equal(seen.san, "DNS:a.example.test");
  });

  test("a validator that stalls mid-handshake is closed at the hello timeout", async () => {
    const { server, router } = await startBuiltin("400ms");
    const started = Date.now();
    const got = await new Promise<number>((resolve) => {
      let n = 0;
      const s = net.connect({ port: server.addresses[0]?.port as number, host: "127.0.0.1" }, () =>
        s.write(hello("go-pebble-va")),
      );
      s.on("data", (d) => (n += d.length));
      s.on("close", () => resolve(n));
      s.on("error", () => {});
    });
    const took = Date.now() - started;
    assert.ok(got > 500, `the server flight was sent (${got} bytes)`);
    assert.ok(took >= 350 && took < 3000, `closed after ${took} ms`);
    assert.match(router.metrics.registry.render(), /alpnmux_challenges_total\{outcome="failed"\} 1/);
  });
});

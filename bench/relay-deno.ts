// The thinnest TCP relay on Deno, the floor for alpnmux on Deno: Deno.listen + Deno.connect and
// one 16 KiB read/write loop per direction, no parsing, no policy, no PROXY header. Backpressure
// is the awaited write; half-close: EOF on one side is closeWrite() on the other.
//   deno run --allow-net bench/relay-deno.ts LISTEN_PORT UPSTREAM_PORT     (both on 127.0.0.1)
const [port, upstream] = Deno.args.map(Number);

const close = (c: Deno.Conn) => {
  try {
    c.close();
  } catch {
    // Already closed.
  }
};

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (let n = await from.read(buf); n !== null; n = await from.read(buf))
      for (let off = 0; off < n; ) off += await to.write(buf.subarray(off, n));
    await to.closeWrite();
  } catch {
    close(from);
    close(to);
  }
}

async function relay(client: Deno.Conn): Promise<void> {
  let up: Deno.Conn;
  try {
    up = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
  } catch {
    return close(client);
  }
  client.setNoDelay(true);
  up.setNoDelay(true);
  await Promise.all([pipe(client, up), pipe(up, client)]);
  close(client);
  close(up);
}

for await (const c of Deno.listen({ hostname: "127.0.0.1", port })) relay(c);

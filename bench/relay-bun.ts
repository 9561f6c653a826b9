// The thinnest TCP relay on Bun, the floor for alpnmux on Bun: Bun.listen + Bun.connect, no
// parsing, no policy, no PROXY header. Backpressure: what write() did not take is kept and the
// other side paused until drain; half-close: a FIN is passed on (shutdown) after the queue.
//   bun bench/relay-bun.ts LISTEN_PORT UPSTREAM_PORT     (both on 127.0.0.1)
import type { Socket, SocketHandler } from "bun";

type End = {
  peer: Socket<End> | null;
  rest: Uint8Array | null;
  fin: boolean;
  gotFin: boolean;
  gone: boolean;
};
const end = (peer: Socket<End> | null): End => ({ peer, rest: null, fin: false, gotFin: false, gone: false });
const [port, upstream] = process.argv.slice(2).map(Number);

/** Passes the FIN on once `s`'s queue is empty; closes `s` when both directions are done. */
function finish(s: Socket<End>): void {
  s.data.fin = true;
  if (s.data.rest) return;
  s.shutdown();
  if (s.data.gotFin) s.end();
}
const common: Omit<SocketHandler<End>, "open"> = {
  data(s, chunk) {
    const to = s.data.peer;
    if (!to || to.data.gone) return;
    const n = to.write(chunk);
    if (n < chunk.length) {
      to.data.rest = chunk.slice(Math.max(0, n));
      s.pause();
    }
  },
  drain(s) {
    const d = s.data;
    if (!d.rest) return;
    const n = s.write(d.rest);
    if (n < d.rest.length) {
      d.rest = d.rest.subarray(Math.max(0, n));
      return;
    }
    d.rest = null;
    d.peer?.resume();
    if (d.fin) finish(s);
  },
  end(s) {
    s.data.gotFin = true;
    if (s.data.fin && !s.data.rest) s.end();
    if (s.data.peer && !s.data.peer.data.gone) finish(s.data.peer);
  },
  close(s, err) {
    s.data.gone = true;
    const p = s.data.peer;
    if (!p || p.data.gone) return;
    if (err) return p.terminate();
    p.data.gotFin = true;
    finish(p);
  },
};
Bun.listen<End>({
  hostname: "127.0.0.1",
  port,
  allowHalfOpen: true,
  socket: {
    ...common,
    open(c) {
      c.data = end(null);
      c.setNoDelay(true);
      c.pause(); // until the upstream is connected
      Bun.connect<End>({
        hostname: "127.0.0.1",
        port: upstream,
        allowHalfOpen: true,
        data: end(c),
        socket: {
          ...common,
          open(u) {
            u.setNoDelay(true);
            if (c.data.gone) return u.end();
            c.data.peer = u;
            c.resume();
          },
          connectError: () => c.terminate(),
        },
      }).catch(() => c.terminate());
    },
  },
});

#!/usr/bin/env node
// Holds idle connections open through a router, for the memory measurement of the TLS benchmark.
//   node bench/idle-conns.mjs PORT tls|tcp
// Reads commands on stdin: "open N" opens N more connections and prints "ready OPENED FAILED"
// once each is up (or failed); "check" prints "alive N"; the end of stdin closes all and exits.
// tls: TLS 1.3 connections (SNI localhost), each kept open after its handshake, no request;
// tcp: TCP connections that send nothing (stalled before the ClientHello).
// The connections come from 127.0.1.1, 127.0.1.2, ... with at most 50 per source address, below
// alpnmux's default cap of 64 connections per address that have not sent a whole hello (the
// slowloris guard), so the per-connection memory is measured rather than the cap.
import net from "node:net";
import readline from "node:readline";
import tls from "node:tls";

const [port, mode] = [Number(process.argv[2]), process.argv[3]];
const CONCURRENT = 50; // handshakes in flight at once
const PER_ADDRESS = 50;
const sockets = [];

function one(i) {
  return new Promise((resolve) => {
    const localAddress = `127.0.1.${1 + Math.floor(i / PER_ADDRESS)}`;
    const s =
      mode === "tls"
        ? tls.connect({
            host: "127.0.0.1",
            port,
            localAddress,
            servername: "localhost",
            rejectUnauthorized: false,
          })
        : net.connect({ host: "127.0.0.1", port, localAddress });
    let done = false;
    const finish = (ok) => {
      if (!done) resolve(ok);
      done = true;
    };
    s.on(mode === "tls" ? "secureConnect" : "connect", () => finish(true));
    s.on("error", () => finish(false));
    s.on("close", () => finish(false));
    s.on("data", () => {}); // session tickets
    sockets.push(s);
  });
}

async function open(n) {
  const end = sockets.length + n;
  let opened = 0;
  let next = sockets.length;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENT, n) }, async () => {
      while (next < end) if (await one(next++)) opened++;
    }),
  );
  process.stdout.write(`ready ${opened} ${n - opened}\n`);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (l) => {
  const [cmd, arg] = l.trim().split(" ");
  if (cmd === "open") open(Number(arg));
  else if (cmd === "check") process.stdout.write(`alive ${sockets.filter((s) => !s.destroyed).length}\n`);
});
rl.on("close", () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});

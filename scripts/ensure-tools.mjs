#!/usr/bin/env node
// Checks that the Debian tools the e2e tests (and npm run bench) need are installed; installs them
// when run as root, else prints the apt-get command and exits 1. Quiet when everything is present.
// Usage: node scripts/ensure-tools.mjs
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** command → Debian package (and extra absolute paths to look at, e.g. /usr/sbin for non-root PATHs). */
const TOOLS = [
  { cmd: "pebble", pkg: "pebble" },
  { cmd: "pebble-challtestsrv", pkg: "pebble" },
  { cmd: "lego", pkg: "lego" },
  { cmd: "openssl", pkg: "openssl" },
  { cmd: "curl", pkg: "curl" },
  // haproxy: the PROXY-protocol peer in npm run bench (bench/router.bench.mjs).
  { cmd: "haproxy", pkg: "haproxy", also: ["/usr/sbin/haproxy"] },
  { cmd: "nginx", pkg: "nginx", also: ["/usr/sbin/nginx"] },
  { cmd: "tshark", pkg: "tshark" },
  { cmd: "chromium", pkg: "chromium" },
  { cmd: "python3", pkg: "python3" },
  // Shared challenges (tests/e2e/redis.test.ts): a real Redis, and redis-cli to inspect it.
  { cmd: "redis-server", pkg: "redis-server", also: ["/usr/bin/redis-server"] },
  { cmd: "redis-cli", pkg: "redis-tools" },
  // The 1500-MTU network namespace (tests/_harness/netns.ts).
  { cmd: "ip", pkg: "iproute2", also: ["/usr/sbin/ip", "/sbin/ip"] },
  { cmd: "tc", pkg: "iproute2", also: ["/usr/sbin/tc", "/sbin/tc"] },
  { cmd: "ss", pkg: "iproute2", also: ["/usr/bin/ss", "/bin/ss"] },
  { cmd: "unshare", pkg: "util-linux" },
  { cmd: "nsenter", pkg: "util-linux" },
  // Every harness child runs under `setpriv --pdeathsig KILL` (tests/_harness/proc.ts), and the
  // unprivileged :443 test drops CAP_NET_BIND_SERVICE with it (tests/e2e/cli.test.ts).
  { cmd: "setpriv", pkg: "util-linux", also: ["/usr/bin/setpriv"] },
  // Other ACME clients against the built-in responder (tests/e2e/acme-clients.test.ts): uacme,
  // its ualpn client and stock ualpn.sh hook (the ualpn control socket), and dehydrated. uacme
  // runs under `unshare --mount` with a bind-mounted CA bundle.
  { cmd: "uacme", pkg: "uacme" },
  { cmd: "ualpn", pkg: "uacme" },
  { file: "/usr/share/uacme/ualpn.sh", pkg: "uacme" },
  { cmd: "dehydrated", pkg: "dehydrated" },
  { cmd: "mount", pkg: "mount", also: ["/usr/bin/mount", "/bin/mount"] },
  // wrk: the TLS client of npm run bench (bench/tls.bench.mjs; Debian's links OpenSSL).
  { cmd: "wrk", pkg: "wrk" },
  // nginx's stream module (npm run bench compares alpnmux with nginx stream + ssl_preread).
  { file: "/usr/lib/nginx/modules/ngx_stream_module.so", pkg: "libnginx-mod-stream" },
];

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function found(tool) {
  if (tool.file) return fs.existsSync(tool.file);
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  return dirs.some((d) => isExecutable(path.join(d, tool.cmd))) || (tool.also ?? []).some(isExecutable);
}

const missingPkgs = () => [...new Set(TOOLS.filter((t) => !found(t)).map((t) => t.pkg))];

let pkgs = missingPkgs();
if (pkgs.length === 0) process.exit(0);

if (typeof process.getuid !== "function" || process.getuid() !== 0) {
  const missing = TOOLS.filter((t) => !found(t)).map((t) => t.cmd ?? t.file);
  console.error(
    `Missing tools for the e2e tests (${missing.join(", ")}). Not root, so not installing them.` +
      `\nInstall them with:\n  sudo apt-get install -y --no-install-recommends ${pkgs.join(" ")}` +
      "\nThe unit tests need none of them: npm run test:unit",
  );
  process.exit(1);
}

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const run = (cmd, args, input) => {
  const r = spawnSync(cmd, args, {
    env,
    stdio: [input === undefined ? "ignore" : "pipe", "inherit", "inherit"],
    input,
  });
  return r.status === 0;
};

// tshark's postinst asks whether non-root users may capture; answer "no" without a prompt.
if (pkgs.includes("tshark")) {
  run("debconf-set-selections", [], "wireshark-common wireshark-common/install-setuid boolean false\n");
}

// apt-get update only if the package lists are missing or don't know a package yet.
const known = (p) => {
  try {
    execFileSync("apt-cache", ["show", p], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
if (!pkgs.every(known)) {
  console.error("ensure-tools: apt-get update");
  run("apt-get", ["update"]);
}

console.error(`ensure-tools: apt-get install -y ${pkgs.join(" ")}`);
run("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs]);

pkgs = missingPkgs();
if (pkgs.length > 0) {
  console.error(`ensure-tools: still missing after install: ${pkgs.join(" ")}`);
  process.exit(1);
}

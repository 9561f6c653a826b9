/**
 * @module certs — throwaway CA and leaf certificates made with the `openssl` CLI (P-256).
 *
 * @example
 * const ca = createCA(ws.subdir('pki'))
 * const leaf = issueCert(ca, ['localhost', '127.0.0.1'])     // IPs become iPAddress SANs
 * https.createServer({ cert: leaf.cert, key: leaf.key }, ...)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/** A self-signed CA on disk. */
export interface CertAuthority {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** PEM text of the CA certificate. */
  readonly cert: string;
}

/** A leaf certificate signed by a {@link CertAuthority}. */
export interface LeafCert {
  readonly names: readonly string[];
  readonly certPath: string;
  readonly keyPath: string;
  /** Leaf followed by the CA certificate. */
  readonly chainPath: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: CertAuthority;
}

function openssl(args: readonly string[], cwd: string): string {
  return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Creates a P-256 CA (valid 2 days) in `dir` as `ca.crt` / `ca.key`. */
export function createCA(dir: string, commonName = "alpnmux test CA"): CertAuthority {
  fs.mkdirSync(dir, { recursive: true });
  const keyPath = path.join(dir, "ca.key");
  const certPath = path.join(dir, "ca.crt");
  openssl(
    [
      "req",
      "-x509",
      "-new",
      "-nodes",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return { dir, keyPath, certPath, cert: fs.readFileSync(certPath, "utf8") };
}

let serial = 1;

/**
 * Issues a P-256 server+client certificate for `names` (DNS names, or IP literals which become
 * iPAddress SANs; the first name is also the CN). Files go to `ca.dir` as `<file>.crt/.key`.
 */
export function issueCert(ca: CertAuthority, names: readonly string[], file?: string): LeafCert {
  const first = names[0];
  if (first === undefined) throw new TypeError("issueCert: at least one name is required");
  const base = file ?? `${first.replace(/[^A-Za-z0-9.-]+/g, "_")}-${serial++}`;
  const keyPath = path.join(ca.dir, `${base}.key`);
  const csrPath = path.join(ca.dir, `${base}.csr`);
  const extPath = path.join(ca.dir, `${base}.ext`);
  const certPath = path.join(ca.dir, `${base}.crt`);
  const chainPath = path.join(ca.dir, `${base}.chain.crt`);
  const san = names.map((n) => (net.isIP(n) !== 0 ? `IP:${n}` : `DNS:${n}`)).join(",");
  fs.writeFileSync(
    extPath,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth,clientAuth",
      `subjectAltName=${san}`,
      "",
    ].join("\n"),
  );
  openssl(
    [
      "req",
      "-new",
      "-nodes",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-keyout",
      keyPath,
      "-out",
      csrPath,
      "-subj",
      `/CN=${first}`,
    ],
    ca.dir,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      csrPath,
      "-CA",
      ca.certPath,
      "-CAkey",
      ca.keyPath,
      "-CAcreateserial",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      extPath,
      "-out",
      certPath,
    ],
    ca.dir,
  );
  const cert = fs.readFileSync(certPath, "utf8");
  fs.writeFileSync(chainPath, cert + ca.cert);
  return { names, keyPath, certPath, chainPath, cert, key: fs.readFileSync(keyPath, "utf8"), ca };
}

/**
 * Subject alternative names of the first certificate in a PEM file, as printed by openssl with
 * the type prefix removed: `['a.example.test', '127.0.0.1']`. Empty if there is no SAN.
 */
export function certSans(pemPath: string): string[] {
  const out = execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", pemPath], {
    encoding: "utf8",
  });
  const lines = out.split("\n").slice(1).join(",");
  return lines
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => s.replace(/^(DNS|IP Address|IP|email|URI):/, ""));
}

/** `openssl x509 -noout -subject -issuer` of a PEM file, e.g. for diagnostics. */
export function certSubjectIssuer(pemPath: string): { subject: string; issuer: string } {
  const out = execFileSync("openssl", ["x509", "-noout", "-subject", "-issuer", "-in", pemPath], {
    encoding: "utf8",
  });
  const subject = /^subject=\s*(.*)$/m.exec(out)?.[1] ?? "";
  const issuer = /^issuer=\s*(.*)$/m.exec(out)?.[1] ?? "";
  return { subject, issuer };
}

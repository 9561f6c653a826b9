/**
 * @module cert-host.test — Bun's `CertHost` (packages/bun-listener/src/cert-host.ts) in-process:
 * atomic files and modes, a missing file, `sh` with env, output tail and timeout, and fetch
 * with an extra CA. The cases are shared with Deno (tests/_harness/cert-host-cases.ts). Run with
 * `bun test tests/bun`.
 */
import { certHost } from "@alpnmux/bun-listener/cert-host";
import { certHostCases } from "../_harness/cert-host-cases.ts";

certHostCases(certHost, "bun");

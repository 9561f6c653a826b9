/**
 * @module cert-host.test — Deno's `CertHost` (packages/deno-listener/src/cert-host.ts)
 * in-process, with the cases Bun's runs too (tests/_harness/cert-host-cases.ts). Run with
 * `deno test -A tests/deno`.
 */
import { certHost } from "../../packages/deno-listener/src/cert-host.ts";
import { certHostCases } from "../_harness/cert-host-cases.ts";

certHostCases(certHost, "deno");

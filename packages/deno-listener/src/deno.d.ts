/**
 * The few Deno APIs the adapter uses, declared by hand (Hono's approach) so the package
 * type-checks with the project's `tsc` without Deno's full lib.
 *
 * @module deno.d
 */

declare namespace Deno {
  interface NetAddr {
    transport: "tcp" | "udp";
    hostname: string;
    port: number;
  }
  interface Conn {
    readonly localAddr: NetAddr;
    readonly remoteAddr: NetAddr;
    read(p: Uint8Array): Promise<number | null>;
    write(p: Uint8Array): Promise<number>;
    closeWrite(): Promise<void>;
    close(): void;
    setNoDelay(noDelay?: boolean): void;
    setKeepAlive?(keepAlive?: boolean): void;
  }
  interface Listener extends AsyncIterable<Conn> {
    readonly addr: NetAddr;
    accept(): Promise<Conn>;
    close(): void;
  }
  interface HttpServer {
    readonly addr: NetAddr;
    readonly finished: Promise<void>;
    shutdown(): Promise<void>;
  }
  function listen(options: {
    hostname?: string;
    port: number;
    transport?: "tcp";
    reusePort?: boolean;
  }): Listener;
  function connect(options: { hostname?: string; port: number; transport?: "tcp" }): Promise<Conn>;
  function serve(
    options: { hostname?: string; port?: number; onListen?: (addr: NetAddr) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): HttpServer;
  interface ChildStatus {
    readonly success: boolean;
    readonly code: number;
    readonly signal: string | null;
  }
  interface ChildProcess {
    readonly pid: number;
    /** Only with `stdout: "piped"`. */
    readonly stdout: ReadableStream<Uint8Array>;
    /** Only with `stderr: "piped"`. */
    readonly stderr: ReadableStream<Uint8Array>;
    readonly status: Promise<ChildStatus>;
    kill(signal?: string): void;
  }
  /** Subprocesses: the workers (`workers.ts`) and `deploy` commands (`cert-host.ts`). */
  class Command {
    constructor(
      command: string,
      options: {
        args?: string[];
        env?: Record<string, string>;
        stdin?: "null" | "piped" | "inherit";
        stdout?: "null" | "piped" | "inherit";
        stderr?: "null" | "piped" | "inherit";
        detached?: boolean;
      },
    );
    spawn(): ChildProcess;
    output(): Promise<ChildStatus>;
  }
  function readFile(path: string): Promise<Uint8Array>;
  function readTextFileSync(path: string): string;
  function addSignalListener(signal: "SIGTERM" | "SIGINT" | "SIGHUP", handler: () => void): void;
  function exit(code?: number): never;
  const args: string[];
  const version: { deno: string };
  const env: { toObject(): Record<string, string> };
  const stdin: { readable: ReadableStream<Uint8Array> };
  const stdout: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  const stderr: { writeSync(p: Uint8Array): number };
}

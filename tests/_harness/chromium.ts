/**
 * @module chromium — drives headless Chromium (Debian `/usr/bin/chromium`, or `CHROMIUM`) over
 * the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages ended by NUL on
 * fds 3 and 4), so no WebSocket client, npm package or browser download is needed. The small API
 * types and clicks like a user (Input.insertText, real mouse events at the element's centre)
 * and collects what the browser logs (console, CSP violations, exceptions).
 *
 * `loginAndRead()` opens the alpnmux status page, logs in through its form and returns the
 * rendered text, for any e2e test that wants to see what the page shows.
 *
 * @example
 * const browser = await launchChromium(ws.subdir('profile'))
 * const page = await browser.openPage(`${adminUrl}/`)
 * await page.fill('#token', token); await page.click('button[type=submit]', { navigation: true })
 * console.log(await page.text()); await page.screenshot(path.join(ws.dir, 'status.png'))
 * await browser.close()
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";

/** The Chromium binary: `CHROMIUM` or `/usr/bin/chromium`. */
export const CHROMIUM: string = process.env["CHROMIUM"] ?? "/usr/bin/chromium";

/** Why Chromium cannot run here, or undefined. */
export function chromiumUnavailable(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (Debian: apt-get install chromium)`;
}

/** One thing the page logged: console calls, browser log entries (CSP violations), exceptions. */
export interface BrowserMessage {
  readonly source: string;
  readonly level: string;
  readonly text: string;
}

type Json = Record<string, unknown>;

/** A DevTools connection over the pipe: numbered commands, events by method and session. */
class Cdp {
  #next = 1;
  #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void; method: string }>();
  #listeners = new Set<(method: string, params: Json, sessionId: string | undefined) => void>();
  #buf = "";
  #closed: Error | null = null;

  constructor(
    readonly write: Writable,
    read: Readable,
  ) {
    read.setEncoding("utf8");
    read.on("data", (chunk: string) => {
      this.#buf += chunk;
      for (let i = this.#buf.indexOf("\0"); i >= 0; i = this.#buf.indexOf("\0")) {
        const msg = JSON.parse(this.#buf.slice(0, i)) as Json;
        this.#buf = this.#buf.slice(i + 1);
        this.#dispatch(msg);
      }
    });
    read.on("close", () => this.fail(new Error("Chromium closed the DevTools pipe")));
  }

  #dispatch(msg: Json): void {
    if (typeof msg["id"] === "number") {
      const p = this.#pending.get(msg["id"]);
      if (!p) return;
      this.#pending.delete(msg["id"]);
      const err = msg["error"] as { message?: string } | undefined;
      if (err) p.reject(new Error(`${p.method}: ${err.message ?? JSON.stringify(err)}`));
      else p.resolve((msg["result"] ?? {}) as Json);
      return;
    }
    const sessionId = typeof msg["sessionId"] === "string" ? msg["sessionId"] : undefined;
    for (const l of this.#listeners) l(String(msg["method"]), (msg["params"] ?? {}) as Json, sessionId);
  }

  fail(e: Error): void {
    this.#closed ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  send(method: string, params: Json = {}, sessionId?: string, timeoutMs = 15_000): Promise<Json> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#next++;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no answer from Chromium within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        method,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.write.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  on(fn: (method: string, params: Json, sessionId: string | undefined) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** The next event `method` of `sessionId` (that `pred` accepts). */
  waitFor(method: string, sessionId: string, timeoutMs = 15_000, pred: (p: Json) => boolean = () => true) {
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((m, p, s) => {
        if (m !== method || s !== sessionId || !pred(p)) return;
        clearTimeout(timer);
        off();
        resolve(p);
      });
    });
  }
}

/** One tab. */
export interface Page {
  /** Everything logged so far (console, CSP violations, uncaught exceptions). */
  readonly messages: BrowserMessage[];
  /** Loads `url` and waits for its load event. */
  goto(url: string): Promise<void>;
  /** Focuses the element and types `value` into it. */
  fill(selector: string, value: string): Promise<void>;
  /** A mouse click at the element's centre; with `navigation`, waits for the next page's load. */
  click(selector: string, opts?: { navigation?: boolean }): Promise<void>;
  /** `document.body.innerText`. */
  text(): Promise<string>;
  /** The value of a JavaScript expression in the page (DevTools evaluation, not subject to CSP). */
  evaluate<T>(expression: string): Promise<T>;
  /** The current URL. */
  url(): Promise<string>;
  /** A PNG of the whole page (beyond the viewport) written to `file`. */
  screenshot(file: string): Promise<void>;
}

/** A running headless Chromium. */
export interface Browser {
  /** A new tab (1280 px wide) at `url`, loaded. */
  openPage(url: string): Promise<Page>;
  /** Closes the browser (Browser.close, then SIGKILL of its process group after 3 s). */
  close(): Promise<void>;
  readonly process: ChildProcess;
}

/**
 * Starts headless Chromium with a fresh profile in `userDataDir` (a temporary directory if
 * absent): `--headless=new --no-sandbox` (root needs it) `--disable-gpu`, no first-run, sync,
 * component updates or background networking. Killed with its process group at close, and
 * after `maxLifeMs` (default 60 s) in any case.
 */
export async function launchChromium(userDataDir?: string, maxLifeMs = 60_000): Promise<Browser> {
  const profile = userDataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "alpnmux-chromium-"));
  const child = spawn(
    CHROMIUM,
    [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--remote-debugging-pipe",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const lifeTimer = setTimeout(kill, maxLifeMs);
  lifeTimer.unref();
  process.once("exit", kill);
  const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable);
  child.on("exit", (code, signal) =>
    cdp.fail(new Error(`Chromium exited (code ${code}, signal ${signal}): ${stderr.slice(-1000)}`)),
  );
  await cdp.send("Browser.getVersion", {}, undefined, 20_000);

  async function openPage(url: string): Promise<Page> {
    const { targetId } = (await cdp.send("Target.createTarget", { url: "about:blank" })) as {
      targetId: string;
    };
    const { sessionId } = (await cdp.send("Target.attachToTarget", { targetId, flatten: true })) as {
      sessionId: string;
    };
    const s = (method: string, params: Json = {}) => cdp.send(method, params, sessionId);
    const messages: BrowserMessage[] = [];
    cdp.on((method, p, sid) => {
      if (sid !== sessionId) return;
      if (method === "Runtime.consoleAPICalled") {
        const args = (p["args"] as { value?: unknown; description?: string }[] | undefined) ?? [];
        const text = args.map((a) => String(a.value ?? a.description ?? "")).join(" ");
        messages.push({ source: "console", level: String(p["type"]), text });
      } else if (method === "Log.entryAdded") {
        const e = p["entry"] as { source: string; level: string; text: string };
        messages.push({ source: e.source, level: e.level, text: e.text });
      } else if (method === "Runtime.exceptionThrown") {
        const d = p["exceptionDetails"] as { text?: string; exception?: { description?: string } };
        messages.push({
          source: "exception",
          level: "error",
          text: d.exception?.description ?? d.text ?? "",
        });
      }
    });
    await Promise.all([s("Page.enable"), s("Runtime.enable"), s("Log.enable")]);
    await s("Emulation.setDeviceMetricsOverride", {
      width: 1280,
      height: 900,
      deviceScaleFactor: 1,
      mobile: false,
    });

    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = (await s("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })) as {
        result: { value?: T };
        exceptionDetails?: { text?: string; exception?: { description?: string } };
      };
      if (r.exceptionDetails) {
        const d = r.exceptionDetails;
        throw new Error(`evaluate ${expression}: ${d.exception?.description ?? d.text}`);
      }
      return r.result.value as T;
    };
    const loaded = () => cdp.waitFor("Page.loadEventFired", sessionId);
    const center = async (selector: string) => {
      const box = await evaluate<{ x: number; y: number } | null>(
        `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null;
          e.scrollIntoView({ block: "center" }); const r = e.getBoundingClientRect();
          return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()`,
      );
      if (box === null)
        throw new Error(`no element matches ${selector} on ${await evaluate("location.href")}`);
      return box;
    };

    const page: Page = {
      messages,
      async goto(to) {
        const done = loaded();
        const r = (await s("Page.navigate", { url: to })) as { errorText?: string };
        if (r.errorText) throw new Error(`cannot load ${to}: ${r.errorText}`);
        await done;
      },
      async fill(selector, value) {
        await center(selector);
        await evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
        await s("Input.insertText", { text: value });
      },
      async click(selector, opts = {}) {
        const { x, y } = await center(selector);
        const done = opts.navigation ? loaded() : undefined;
        const base = { x, y, button: "left", clickCount: 1 };
        await s("Input.dispatchMouseEvent", { type: "mouseMoved", x, y });
        await s("Input.dispatchMouseEvent", { type: "mousePressed", ...base });
        await s("Input.dispatchMouseEvent", { type: "mouseReleased", ...base });
        await done;
      },
      text: () => evaluate<string>("document.body ? document.body.innerText : ''"),
      evaluate,
      url: () => evaluate<string>("location.href"),
      async screenshot(file) {
        const m = (await s("Page.getLayoutMetrics")) as { cssContentSize: { width: number; height: number } };
        const { width, height } = m.cssContentSize;
        const r = (await s("Page.captureScreenshot", {
          format: "png",
          captureBeyondViewport: true,
          clip: { x: 0, y: 0, width: Math.ceil(width), height: Math.ceil(height), scale: 1 },
        })) as { data: string };
        fs.writeFileSync(file, Buffer.from(r.data, "base64"));
      },
    };
    await page.goto(url);
    return page;
  }

  return {
    process: child,
    openPage,
    async close() {
      clearTimeout(lifeTimer);
      const exited = new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) r();
        else child.once("exit", () => r());
      });
      await cdp.send("Browser.close", {}, undefined, 3000).catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      kill();
      process.removeListener("exit", kill);
      if (userDataDir === undefined) fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens the alpnmux status page at `adminUrl`, logs in through its form with `token` (typed,
 * then the button clicked), saves a screenshot of the page to `screenshotPath` (and prints
 * `# status-page screenshot: <path>`), and returns the page's text. Throws when the login form
 * is missing or the login does not lead to the status page.
 */
export async function loginAndRead(adminUrl: string, token: string, screenshotPath: string): Promise<string> {
  const browser = await launchChromium();
  try {
    const page = await browser.openPage(`${adminUrl.replace(/\/$/, "")}/`);
    await page.fill("#token", token);
    await page.click("form[action='/login'] button[type=submit]", { navigation: true });
    const text = await page.text();
    await page.screenshot(screenshotPath);
    console.log(`# status-page screenshot: ${screenshotPath}`);
    if (!text.includes("alpnmux status") || !text.includes("Challenges in flight")) {
      throw new Error(`the login did not lead to the status page; it shows:\n${text.slice(0, 1000)}`);
    }
    return text;
  } finally {
    await browser.close();
  }
}

/**
 * The status page's stylesheet, served at `/status.css` (the CSP allows styles from `'self'`
 * only: no inline style, no external fonts). Light and dark follow `prefers-color-scheme`.
 *
 * @example
 * ```ts
 * import { STATUS_CSS } from "@alpnmux/core/status-page";
 * STATUS_CSS.includes("prefers-color-scheme"); // true
 * ```
 *
 * @module status-page/style
 */

/** The whole stylesheet. */
export const STATUS_CSS = `:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --fg: #1b1f24; --muted: #5b6470; --line: #dde1e6;
  --head: #eef1f4; --accent: #1f6feb; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e;
  --ok-bg: #dafbe1; --warn-bg: #fff8c5; --bad-bg: #ffebe9; --info-bg: #ddf4ff;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --card: #161b22; --fg: #e6edf3; --muted: #8d96a0; --line: #30363d;
    --head: #1c2128; --accent: #58a6ff; --ok: #3fb950; --warn: #d29922; --bad: #f85149;
    --ok-bg: #12261e; --warn-bg: #272115; --bad-bg: #2d1517; --info-bg: #121d2f;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header {
  display: flex; align-items: center; gap: 1rem; flex-wrap: wrap;
  padding: .8rem 1.5rem; background: var(--card); border-bottom: 1px solid var(--line);
}
header h1 { font-size: 1.15rem; margin: 0; }
header .meta { color: var(--muted); font-size: .9rem; }
header form { margin-left: auto; }
main { max-width: 1150px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
section {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  margin: 1rem 0; padding: .2rem 1.1rem 1rem;
}
h2 { font-size: 1.02rem; margin: .9rem 0 .6rem; }
h2 .count { color: var(--muted); font-weight: normal; }
table { width: 100%; border-collapse: collapse; font-size: .93rem; }
th, td { text-align: left; vertical-align: top; padding: .42rem .6rem; border-bottom: 1px solid var(--line); }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
#routes td:first-child, #routes th:first-child { width: 2.5rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; overflow-wrap: anywhere; }
.muted, .empty { color: var(--muted); }
.line { display: block; white-space: nowrap; }
.sub { display: block; color: var(--muted); font-size: .85em; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .82em; font-weight: 600; }
.badge.valid, .badge.issued, .badge.shared { color: var(--ok); background: var(--ok-bg); }
.badge.pending { color: var(--warn); background: var(--warn-bg); }
.badge.renewing { color: var(--accent); background: var(--info-bg); }
.badge.failed { color: var(--bad); background: var(--bad-bg); }
.problem { margin: .25rem 0 0; padding-left: 1.1rem; }
.problem code { color: var(--bad); }
.stats { display: flex; gap: 1rem; flex-wrap: wrap; margin: .3rem 0 .9rem; }
.stat { border: 1px solid var(--line); border-radius: 8px; padding: .5rem 1rem; min-width: 9rem; }
.stat b { display: block; font-size: 1.5rem; font-variant-numeric: tabular-nums; }
button {
  font: inherit; padding: .35rem .9rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--line); background: var(--head); color: var(--fg);
}
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.login { max-width: 24rem; margin: 12vh auto; }
.login section { padding: 1rem 1.4rem 1.4rem; }
.login label { display: block; margin: .6rem 0 .3rem; font-weight: 600; }
.login input {
  width: 100%; font: inherit; padding: .45rem .6rem; border-radius: 6px;
  border: 1px solid var(--line); background: var(--bg); color: var(--fg);
}
.login button { margin-top: .9rem; width: 100%; }
.error { color: var(--bad); background: var(--bad-bg); border-radius: 6px; padding: .45rem .7rem; }
.note { color: var(--muted); font-size: .88rem; }
`;

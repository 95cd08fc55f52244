/**
 * The dashboard's only static files, served by the Worker itself (no CDN, works offline): the
 * stylesheet and a small script for copy buttons, confirmations and live run progress. Pages work
 * without the script; they then refresh themselves while a run is in progress.
 */
import { Hono } from "hono";

const css = `
:root { --fg: #1d2330; --muted: #5d6678; --line: #dde1e8; --bg: #f6f7f9; --card: #fff; --accent: #2457c5; --ok: #1c7c43; --warn: #9a6200; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: 24px; padding: 0 24px; height: 52px; background: #111827; color: #e5e7eb; }
header.top .brand { font-weight: 700; font-size: 16px; color: #fff; }
header.top nav { display: flex; gap: 4px; flex: 1; }
header.top nav a { color: #cbd5e1; padding: 6px 10px; border-radius: 6px; }
header.top nav a.active, header.top nav a:hover { background: #1f2937; color: #fff; text-decoration: none; }
header.top .who { display: flex; align-items: center; gap: 10px; font-size: 13px; color: #cbd5e1; }
header.top .who form { margin: 0; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 4px 0 16px; }
h2 { font-size: 16px; margin: 0 0 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 16px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.grid2 > .card { margin-bottom: 0; }
.spaced { margin-bottom: 16px; }
.spaced-top { margin-top: 12px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: 0; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #0f172a; color: #e2e8f0; padding: 12px 14px; border-radius: 8px; overflow: auto; white-space: pre-wrap; word-break: break-word; margin: 0; }
.wrap { word-break: break-word; }
pre.scroll { max-height: 420px; }
.nowrap { white-space: nowrap; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; }
label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: var(--muted); }
label.inline { flex-direction: row; align-items: center; gap: 6px; font-size: 14px; color: var(--fg); }
input, select, textarea { font: inherit; padding: 6px 8px; border: 1px solid #c5cbd6; border-radius: 6px; background: #fff; color: var(--fg); }
textarea { min-height: 90px; width: 100%; }
button, .button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; display: inline-block; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
button.link { background: none; border: 0; color: #cbd5e1; padding: 0; text-decoration: underline; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #eef1f6; color: var(--muted); white-space: nowrap; }
.badge.succeeded, .badge.PRESENT, .badge.ok { background: #e3f4ea; color: var(--ok); }
.badge.running, .badge.queued { background: #e6eefc; color: var(--accent); }
.badge.failed, .badge.bad, .badge.revoked { background: #fde8e6; color: var(--bad); }
.badge.OUTSIDE_MAX_AGE, .badge.NULL_VALUE, .badge.stale, .badge.warn { background: #fdf1dc; color: var(--warn); }
.badge.NOT_FOUND { background: #eef1f6; color: var(--muted); }
.notice { padding: 10px 14px; border-radius: 8px; margin-bottom: 16px; border: 1px solid; }
.notice.error { background: #fdf2f1; border-color: #f3c2bd; color: var(--bad); }
.notice.ok { background: #eff8f2; border-color: #b9e0c7; color: var(--ok); }
.notice.info { background: #eef3fd; border-color: #c4d4f5; color: #1e3a8a; }
.secret { display: flex; gap: 8px; align-items: center; }
.secret code { background: #fff7e0; border: 1px solid #f0d48a; padding: 6px 8px; border-radius: 6px; word-break: break-all; }
.pager { display: flex; gap: 12px; align-items: center; margin-top: 12px; }
.pager .disabled { color: #aab1bd; }
progress { width: 160px; height: 10px; vertical-align: middle; }
dl.props { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
dl.props dt { color: var(--muted); }
dl.props dd { margin: 0; word-break: break-word; }
svg.chart { width: 100%; height: auto; max-height: 300px; display: block; }
svg.chart .axes line { stroke: #9aa3b2; stroke-width: 1; }
svg.chart .axes text { fill: #5d6678; font-size: 11px; }
svg.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.6; }
svg.chart .dot { fill: var(--accent); }
svg.chart .bar { fill: #6b8fd6; }
svg.chart .bar:hover, svg.chart .dot:hover { fill: #0f2f7a; }
.signin { max-width: 420px; margin: 10vh auto; }
.signin input { width: 100%; }
.actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.actions form { margin: 0; }
`;

const js = `
"use strict";
// Copy buttons: <button data-copy="element-id">.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.textContent || "";
  var done = function () { var label = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = label; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () {});
  else { var range = document.createRange(); range.selectNodeContents(source); var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range); }
});

// Forms that ask first: <form data-confirm="question">.
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// Live progress of queued and running runs: <tr data-live-run="id"> with [data-field] cells.
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-live-run]"));
  if (rows.length === 0) return;
  var ids = rows.map(function (r) { return r.getAttribute("data-live-run"); });
  function render(run) {
    var row = document.querySelector('[data-live-run="' + CSS.escape(run.id) + '"]');
    if (!row) return;
    row.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.getAttribute("data-field");
      if (field === "progress") {
        if (run.fraction === null) el.removeAttribute("value"); else el.value = run.fraction;
      } else if (field === "status") {
        el.textContent = run.status; el.className = "badge " + run.status;
      } else if (run[field] !== undefined && run[field] !== null) {
        el.textContent = typeof run[field] === "number" ? run[field].toLocaleString("en-US") : String(run[field]);
      }
    });
  }
  function poll() {
    fetch("/ui/runs/live?ids=" + encodeURIComponent(ids.join(",")), { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (res) {
        // Signed out meanwhile (the answer is the sign-in page): show that page instead of polling on.
        if (res.redirected) { window.location.reload(); throw new Error("signed out"); }
        if (!res.ok) throw new Error(String(res.status));
        return res.json();
      })
      .then(function (body) {
        var finished = false;
        body.runs.forEach(function (run) { render(run); if (run.status === "succeeded" || run.status === "failed") finished = true; });
        // A finished run has final numbers, files and errors: show the whole page again.
        if (finished) window.location.reload(); else setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 500);
})();
`;

/** FNV-1a of the files: pages link `?v=<hash>`, so a browser never pairs a new page with an old cached file. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}
export const ASSET_VERSION = fnv1a(css + js);

const cacheControl = "public, max-age=86400";

/** `GET /ui/assets/style.css` and `/ui/assets/app.js`; no session needed (nothing secret in them). */
export const assetRoutes = new Hono()
  .get("/style.css", (c) => c.body(css, 200, { "content-type": "text/css; charset=utf-8", "cache-control": cacheControl }))
  .get("/app.js", (c) => c.body(js, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": cacheControl }));

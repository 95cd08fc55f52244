/**
 * The pages a person opens in a browser, without auth: `GET /` (where to go: API reference,
 * dashboard, OpenAPI document) and `GET /docs`, the interactive API reference. The reference's
 * script is served by FStore itself (public/vendor/, Workers Static Assets), so it works offline;
 * the page also carries a plain list of every operation, shown when the script cannot run.
 */
import { Hono } from "hono";
import { html, raw } from "hono/html";
import type { AppEnv } from "./env";

/** Where scripts/build.mjs puts Scalar's browser bundle (public/vendor/scalar/standalone.js). */
const SCALAR_SCRIPT = "/vendor/scalar/standalone.js";
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Partial<Record<(typeof METHODS)[number], { summary?: string; tags?: string[] }>>>;
}

/** Operations grouped by their first tag, in the document's order. */
function operationsByTag(doc: OpenApiDocument) {
  const groups = new Map<string, { method: string; path: string; summary: string }[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? "other";
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag)?.push({ method: method.toUpperCase(), path, summary: op.summary ?? "" });
    }
  }
  return groups;
}

/** Scalar's options: no web fonts, telemetry, AI agent or hosted tools, so nothing is fetched from elsewhere. */
const SCALAR_CONFIG = {
  url: "/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
  defaultOpenAllTags: true,
};

function docsPage(doc: OpenApiDocument) {
  const groups = [...operationsByTag(doc)];
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${doc.info.title} reference</title>
    <style>
      #fallback { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #222; }
      #fallback code { font-family: ui-monospace, monospace; }
      #fallback .method { display: inline-block; min-width: 4.5rem; font-weight: 600; }
      #fallback li { list-style: none; margin: 0.2rem 0; }
      #fallback ul { padding-left: 0; }
    </style>
  </head>
  <body>
    <div id="app"></div>
    <main id="fallback">
      <h1>${doc.info.title} ${doc.info.version}</h1>
      <p>${doc.info.description ?? ""}</p>
      <p>
        This is the plain list of operations; the interactive reference replaces it when its script
        (<code>${SCALAR_SCRIPT}</code>) runs. Every schema is in the OpenAPI document:
        <a href="/openapi.json">/openapi.json</a>. Calls need <code>Authorization: Bearer &lt;key&gt;</code>.
      </p>
      ${groups.map(
        ([tag, ops]) => html`<section>
          <h2>${tag}</h2>
          <ul>
            ${ops.map((op) => html`<li><code><span class="method">${op.method}</span>${op.path}</code> — ${op.summary}</li>`)}
          </ul>
        </section>`,
      )}
    </main>
    <script src="${SCALAR_SCRIPT}"></script>
    <script>
      if (window.Scalar) {
        document.getElementById("fallback").hidden = true;
        window.Scalar.createApiReference("#app", ${raw(JSON.stringify(SCALAR_CONFIG))});
      }
    </script>
  </body>
</html>`;
}

const LINKS = {
  docs: { href: "/docs", title: "API reference" },
  dashboard: { href: "/ui", title: "Dashboard" },
  openapi: { href: "/openapi.json", title: "OpenAPI document" },
  health: { href: "/health", title: "Health check" },
};

/** `getDocument` builds the OpenAPI document of the app (once per isolate). */
export function docsRoutes(getDocument: () => OpenApiDocument) {
  let doc: OpenApiDocument | undefined;
  const document = () => (doc ??= getDocument());
  return new Hono<AppEnv>()
    .get("/", (c) => {
      const { title, version } = document().info;
      if (!c.req.header("accept")?.includes("text/html")) {
        return c.json({ name: title, version, links: Object.fromEntries(Object.entries(LINKS).map(([k, v]) => [k, v.href])) });
      }
      return c.html(html`<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" /><title>${title}</title></head>
  <body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
    <h1>${title} ${version}</h1>
    <ul>
      ${Object.values(LINKS).map((l) => html`<li><a href="${l.href}">${l.title}</a> <code>${l.href}</code></li>`)}
    </ul>
  </body>
</html>`);
    })
    .get("/docs", (c) => c.html(docsPage(document())));
}

/**
 * The page shell (head, top bar with navigation and sign-out) and small parts every page uses:
 * notices, status badges, pagers, hidden CSRF fields. Everything is rendered by Hono's JSX,
 * which escapes text and attributes; nothing here writes raw HTML from data.
 */
import type { Context } from "hono";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import type { Viewer } from "./data";
import { ASSET_VERSION } from "./assets";
import { can, type UiEnv } from "./guard";

export type Section = "features" | "online" | "runs" | "connectors" | "streams" | "keys";

const NAV: { section: Section; href: string; label: string; scope?: "admin" }[] = [
  { section: "features", href: "/ui/features", label: "Features" },
  { section: "online", href: "/ui/online", label: "Online lookup" },
  { section: "runs", href: "/ui/runs", label: "Runs" },
  { section: "connectors", href: "/ui/connectors", label: "Connectors" },
  { section: "streams", href: "/ui/streams", label: "Streams" },
  { section: "keys", href: "/ui/keys", label: "Keys", scope: "admin" },
];

/** A hidden field carrying the session's CSRF token; every POST form has one. */
export const Csrf: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

const Shell: FC<PropsWithChildren<{ title: string; head?: Child }>> = ({ title, head, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="same-origin" />
      <link rel="icon" href="data:," />
      <title>{`${title} · FStore`}</title>
      <link rel="stylesheet" href={`/ui/assets/style.css?v=${ASSET_VERSION}`} />
      <script src={`/ui/assets/app.js?v=${ASSET_VERSION}`} defer></script>
      {head}
    </head>
    <body>{children}</body>
  </html>
);

interface PageProps {
  title: string;
  section?: Section;
  viewer: Viewer;
  csrf: string;
  /** Extra <head> content (a refresh while runs are live, for browsers without scripts). */
  head?: Child;
}

export const Page: FC<PropsWithChildren<PageProps>> = ({ title, section, viewer, csrf, head, children }) => (
  <Shell title={title} head={head}>
    <header class="top">
      <a class="brand" href="/ui/features">
        FStore
      </a>
      <nav>
        {NAV.filter((n) => !n.scope || can(viewer, n.scope)).map((n) => (
          <a href={n.href} class={n.section === section ? "active" : ""}>
            {n.label}
          </a>
        ))}
      </nav>
      <div class="who">
        <span title={`key ${viewer.keyId}`}>
          {viewer.name} · <span class="mono">{viewer.scopes.join(", ")}</span>
        </span>
        <form method="post" action="/ui/sign-out">
          <Csrf token={csrf} />
          <button class="link" type="submit">
            Sign out
          </button>
        </form>
      </div>
    </header>
    <main>{children}</main>
  </Shell>
);

/** A page outside a session (sign-in, errors before sign-in). */
export const BarePage: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <Shell title={title}>
    <header class="top">
      <span class="brand">FStore</span>
    </header>
    <main>{children}</main>
  </Shell>
);

export const Notice: FC<PropsWithChildren<{ kind: "error" | "ok" | "info" }>> = ({ kind, children }) => (
  <div class={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
    {children}
  </div>
);

export const Badge: FC<{ kind: string; text?: string }> = ({ kind, text }) => <span class={`badge ${kind}`}>{text ?? kind}</span>;

/** Previous / next links that keep the page's other query parameters. */
export const Pager: FC<{ base: string; params: Record<string, string | undefined>; prev: string | null; next: string | null; label?: string }> = ({
  base,
  params,
  prev,
  next,
  label,
}) => {
  const href = (extra: Record<string, string>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "" && k !== "after" && k !== "before") q.set(k, v);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    const s = q.toString();
    return s ? `${base}?${s}` : base;
  };
  return (
    <div class="pager">
      {prev !== null ? <a href={href({ before: prev })}>← Previous</a> : <span class="disabled">← Previous</span>}
      {next !== null ? <a href={href({ after: next })}>Next →</a> : <span class="disabled">Next →</span>}
      {label ? <span class="muted small">{label}</span> : null}
    </div>
  );
};

/** Renders a full document with its doctype. */
export function render(c: Context<UiEnv>, node: Child, status: 200 | 400 | 401 | 403 | 404 | 409 | 500 | 503 = 200) {
  return c.html(`<!doctype html>${String(node)}`, status);
}

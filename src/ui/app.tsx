/**
 * The web dashboard at `/ui`: server-rendered pages (Hono JSX) over the same functions the API
 * uses. Sessions, CSRF and scopes: guard.ts and session.ts; all data access: data.ts.
 *
 * Every response carries a strict Content-Security-Policy (scripts and styles only from
 * /ui/assets, no inline code, no framing). Cross-site form posts are refused by their Origin /
 * Sec-Fetch-Site headers before anything runs, and again by the per-session CSRF token.
 */
import { Hono, type Context } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { scrubMessage } from "../../connectors/scrub";
import { ApiError } from "../errors";
import { assetRoutes } from "./assets";
import type { Viewer } from "./data";
import type { UiEnv } from "./guard";
import { BarePage, Notice, Page, render } from "./layout";
import { connectorRoutes } from "./pages/connectors";
import { featureRoutes } from "./pages/features";
import { keyRoutes } from "./pages/keys";
import { onlineRoutes } from "./pages/online";
import { runRoutes } from "./pages/runs";
import { signInRoutes } from "./pages/sign-in";
import { streamRoutes } from "./pages/streams";

const TITLES: Partial<Record<number, string>> = {
  400: "That request is not valid",
  401: "Not signed in",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  503: "FStore is not configured",
};

function errorPage(c: Context<UiEnv>, status: number, message: string) {
  const viewer = c.get("viewer") as Viewer | undefined;
  const title = TITLES[status] ?? "Something went wrong";
  const body = (
    <>
      <h1>{title}</h1>
      <Notice kind="error">{message}</Notice>
      <p>
        <a href="/ui/features">Back to the features</a>
      </p>
    </>
  );
  c.header("cache-control", "no-store");
  return render(
    c,
    viewer ? (
      <Page title={title} viewer={viewer} csrf={c.get("csrf")}>
        {body}
      </Page>
    ) : (
      <BarePage title={title}>{body}</BarePage>
    ),
    status as 400,
  );
}

function onError(err: Error, c: Context<UiEnv>) {
  if (err instanceof HTTPException && err.status === 403) {
    return errorPage(c, 403, "This form was sent from another site (its Origin is not this dashboard's), so it was refused and nothing was changed.");
  }
  if (err instanceof ApiError) return errorPage(c, err.status, err.message);
  if (err instanceof HTTPException && err.status < 500) return errorPage(c, err.status, err.message || "Bad request");
  // Name and message only: stacks and form data (which may hold a key) stay out of logs.
  console.error(`unhandled dashboard error on ${c.req.method} ${new URL(c.req.url).pathname}: ${err.name}: ${scrubMessage(String(err.message))}`);
  return errorPage(c, 500, "Internal error; nothing more is shown here. The Worker's log has the details.");
}

export function createUi() {
  const ui = new Hono<UiEnv>();
  ui.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "same-origin",
    }),
  );
  ui.use("*", csrf());
  ui.get("/", (c) => c.redirect("/ui/features", 302));
  ui.route("/assets", assetRoutes);
  ui.route("/", signInRoutes);
  ui.route("/features", featureRoutes);
  ui.route("/online", onlineRoutes);
  ui.route("/runs", runRoutes);
  ui.route("/connectors", connectorRoutes);
  ui.route("/streams", streamRoutes);
  ui.route("/keys", keyRoutes);
  // Registered last: only paths no page claims reach it.
  ui.all("*", (c) => errorPage(c, 404, `There is no dashboard page at ${new URL(c.req.url).pathname}.`));
  ui.onError(onError);
  return ui;
}

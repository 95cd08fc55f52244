/**
 * The dashboard's gate. `signedIn` turns the session cookie into the viewer (or sends the browser
 * to sign-in) and, on every state-changing request, checks the form's CSRF token; `allow(scope)`
 * refuses what the viewer's key may not do, with the API's scope rule. Cross-site requests are
 * also refused earlier by an Origin / Sec-Fetch-Site check (see app.tsx).
 */
import type { Context, MiddlewareHandler } from "hono";
import { assertConfigured, grants } from "../auth";
import type { Scope } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { isSessionEnded, viewerOf, type Viewer } from "./data";
import { clearSessionCookie, csrfToken, csrfTokenMatches, readSession, sessionCookie, type Session } from "./session";

export type UiEnv = {
  Bindings: Bindings;
  Variables: { viewer: Viewer; session: Session; csrf: string };
};

/** The admin key: what session tokens are signed with (refuses to serve without one, like the API). */
export function sessionSecret(env: Bindings): string {
  assertConfigured(env.FSTORE_ADMIN_KEY);
  return env.FSTORE_ADMIN_KEY;
}

/** A same-site path to come back to after signing in; anything else goes to the features page. */
export function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/ui(\/[\w\-./%=&?:+,~]*)?$/.test(next) && !next.includes("//") && !next.includes("/..") ? next : "/ui/features";
}

function toSignIn(c: Context) {
  clearSessionCookie(c);
  const url = new URL(c.req.url);
  const next = c.req.method === "GET" ? `${url.pathname}${url.search}` : "/ui/features";
  return c.redirect(`/ui/sign-in?next=${encodeURIComponent(safeNext(next))}`, 303);
}

/** The viewer of a valid, unexpired, not signed-out session of a key that is not revoked; else null. */
export async function currentSession(c: Context<UiEnv>): Promise<{ session: Session; viewer: Viewer } | null> {
  const token = sessionCookie(c);
  if (!token) return null;
  const session = await readSession(sessionSecret(c.env), token);
  if (!session) return null;
  const [ended, viewer] = await Promise.all([isSessionEnded(c.env, session.sid), viewerOf(c.env, session.keyId)]);
  return ended || !viewer ? null : { session, viewer };
}

export const signedIn: MiddlewareHandler<UiEnv> = async (c, next) => {
  const current = await currentSession(c);
  if (!current) return toSignIn(c);
  const secret = sessionSecret(c.env);
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    const form = await c.req.parseBody();
    if (!(await csrfTokenMatches(secret, current.session.sid, form._csrf))) {
      throw new ApiError("FORBIDDEN", "This form's security token is missing or belongs to another session, so nothing was changed. Reload the page and try again.");
    }
  }
  c.set("session", current.session);
  c.set("viewer", current.viewer);
  c.set("csrf", await csrfToken(secret, current.session.sid));
  c.header("cache-control", "no-store");
  await next();
};

/** Refuses (403) a viewer whose key lacks `scope`, as the API would. */
export function allow(scope: Scope): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    if (!grants(c.get("viewer").scopes, scope)) {
      throw new ApiError("FORBIDDEN", `Your key (${c.get("viewer").scopes.join(", ")}) lacks the '${scope}' scope this needs.`, { required: scope });
    }
    await next();
  };
}

export const can = (viewer: Viewer, scope: Scope) => grants(viewer.scopes, scope);

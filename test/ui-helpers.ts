/**
 * Shared by the dashboard tests in workerd: signing in through the sign-in form, fetching pages
 * with the session cookie, and posting forms the way a browser on the dashboard's own origin
 * does (form encoding, Origin header, the page's CSRF token).
 */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { ADMIN_KEY } from "./helpers";

export const ORIGIN = "http://fstore.test";
const FORM = "application/x-www-form-urlencoded";

/**
 * One request to the Worker as a browser sends it, without following redirects (the dashboard
 * answers forms with 303s, and where they point is part of what the tests check).
 */
export function uiCall(method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method, headers: opts.headers, body: opts.body, redirect: "manual" }));
}

export interface Page {
  status: number;
  html: string;
  headers: Headers;
}

/** The `name=value` pair of the session cookie a response sets, or null. */
export function sessionCookieOf(res: Response): string | null {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-fstore_session="));
  return cookie ? (cookie.split(";")[0] as string) : null;
}

/** Signs in through the form and returns the session cookie to send back (`name=value`). */
export async function signIn(key: string = ADMIN_KEY): Promise<string> {
  const res = await uiCall("POST", "/ui/sign-in", { body: new URLSearchParams({ key }).toString(), headers: { "content-type": FORM, origin: ORIGIN } });
  expect(res.status, await res.clone().text()).toBe(303);
  const cookie = sessionCookieOf(res);
  expect(cookie).not.toBeNull();
  return cookie as string;
}

export async function getPage(path: string, cookie?: string, headers: Record<string, string> = {}): Promise<Page> {
  const res = await uiCall("GET", path, { headers: { ...headers, ...(cookie ? { cookie } : {}) } });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

/** The CSRF token of the forms on a page. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  expect(match, "the page has a form with a CSRF token").not.toBeNull();
  return (match as RegExpExecArray)[1] as string;
}

/** Posts a form as a browser would from the dashboard (override `origin`/`extraHeaders` to play an attacker). */
export async function postForm(
  path: string,
  cookie: string | undefined,
  fields: Record<string, string | string[]>,
  opts: { origin?: string | null; headers?: Record<string, string> } = {},
): Promise<Page> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
  const headers: Record<string, string> = { "content-type": FORM, ...opts.headers };
  if (opts.origin !== null) headers.origin = opts.origin ?? ORIGIN;
  if (cookie) headers.cookie = cookie;
  const res = await uiCall("POST", path, { body: body.toString(), headers });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

/** Posts a form of `pagePath` with that page's CSRF token. */
export async function submit(pagePath: string, action: string, cookie: string, fields: Record<string, string | string[]>): Promise<Page> {
  const page = await getPage(pagePath, cookie);
  expect(page.status, page.html).toBe(200);
  return postForm(action, cookie, { ...fields, _csrf: csrfOf(page.html) });
}

/** HTML text back to plain text (the entities Hono's JSX escaping produces). */
export function unescapeHtml(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

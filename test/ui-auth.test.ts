/**
 * Dashboard sessions: signing in with an API key, the session cookie's flags and contents,
 * forged/expired/revoked/signed-out sessions, CSRF refusals, and the security headers.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { issueSession } from "../src/ui/session";
import { ADMIN_KEY, callJson } from "./helpers";
import { csrfOf, getPage, ORIGIN, postForm, sessionCookieOf, signIn, uiCall } from "./ui-helpers";

const keyCount = async () => (await callJson<{ keys: unknown[] }>("GET", "/api/v1/keys", 200)).keys.length;

async function newKey(name: string, scopes: string[]) {
  return callJson<{ id: string; key: string }>("POST", "/api/v1/keys", 201, { body: { name, scopes } });
}

describe("signing in", () => {
  it("sets an HttpOnly, Secure, SameSite=Strict session cookie that does not hold the key", async () => {
    const res = await uiCall("POST", "/ui/sign-in", {
      body: new URLSearchParams({ key: ADMIN_KEY, next: "/ui/runs?status=failed" }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/ui/runs?status=failed");
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("__Host-fstore_session=")) as string;
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; Secure/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).toMatch(/; Max-Age=28800/);
    expect(setCookie).not.toContain(ADMIN_KEY);
    const token = (setCookie.split(";")[0] as string).split("=")[1] as string;
    const payload = JSON.parse(atob((token.split(".")[1] as string).replace(/-/g, "+").replace(/_/g, "/")));
    expect(Object.keys(payload).sort()).toEqual(["exp", "iat", "sid", "sub"]);
    expect(payload.exp - payload.iat).toBe(8 * 3600);
    expect(JSON.stringify(payload)).not.toContain(ADMIN_KEY);

    const page = await getPage("/ui/features", setCookie.split(";")[0]);
    expect(page.status).toBe(200);
    expect(page.html).toContain("admin key (FSTORE_ADMIN_KEY)");
    expect(page.html).not.toContain(ADMIN_KEY);
  });

  it("signs in with a key created through the API and names it in the header", async () => {
    const { key } = await newKey("analyst-laptop", ["read"]);
    const page = await getPage("/ui/features", await signIn(key));
    expect(page.status).toBe(200);
    expect(page.html).toContain("analyst-laptop");
    expect(page.html).not.toContain(key);
  });

  it("refuses an unknown key with 401, sets no cookie and does not repeat the key", async () => {
    const wrong = "fsk_guess_0123456789abcdefghijklmnop";
    const res = await postForm("/ui/sign-in", undefined, { key: wrong });
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-fstore_session=") && !/Max-Age=0/.test(c))).toBe(false);
    expect(res.html).toContain("That key was not accepted");
    expect(res.html).not.toContain(wrong);
  });

  it("refuses an empty key, a key with spaces or control characters, and a revoked key", async () => {
    expect((await postForm("/ui/sign-in", undefined, { key: "" })).status).toBe(400);
    expect((await postForm("/ui/sign-in", undefined, { key: "two words" })).status).toBe(400);
    expect((await postForm("/ui/sign-in", undefined, { key: "fsk_\r\nx-injected: 1" })).status).toBe(400);
    const { id, key } = await newKey("soon-revoked", ["read"]);
    await callJson("DELETE", `/api/v1/keys/${id}`, 204);
    expect((await postForm("/ui/sign-in", undefined, { key })).status).toBe(401);
  });

  it("never redirects off-site after signing in", async () => {
    for (const next of ["https://evil.example/", "//evil.example/ui", "/ui/../api/v1/keys", "javascript:alert(1)", "/uix", "/ui\\@evil.example"]) {
      const res = await uiCall("POST", "/ui/sign-in", {
        body: new URLSearchParams({ key: ADMIN_KEY, next }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      });
      expect(res.headers.get("location"), next).toBe("/ui/features");
    }
  });

  it("sends a visitor without a session to sign-in, remembering the page", async () => {
    const res = await uiCall("GET", "/ui/features?q=abc");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/ui/sign-in?next=${encodeURIComponent("/ui/features?q=abc")}`);
    // An API key in the Authorization header is not a dashboard session.
    expect((await uiCall("GET", "/ui/features", { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(303);
  });
});

describe("sessions", () => {
  it("refuses forged, tampered, expired and foreign-signed tokens", async () => {
    const cookie = await signIn();
    const token = cookie.split("=")[1] as string;
    const [h, p, s] = token.split(".") as [string, string, string];
    const forgedPayload = btoa(JSON.stringify({ sub: "bootstrap-admin", sid: "x", iat: 1, exp: 9_999_999_999 })).replace(/=+$/, "");
    const expired = await issueSession(env.FSTORE_ADMIN_KEY, "bootstrap-admin", Math.floor(Date.now() / 1000) - 9 * 3600);
    const foreign = await issueSession("another-deployment-admin-key-0123456789", "bootstrap-admin");
    for (const bad of [`${h}.${forgedPayload}.${s}`, `${h}.${p}.${s.slice(0, -2)}AA`, expired.token, foreign.token, "not-a-token", ADMIN_KEY]) {
      const res = await uiCall("GET", "/ui/features", { headers: { cookie: `__Host-fstore_session=${bad}` } });
      expect(res.status, bad).toBe(303);
      expect(res.headers.get("location")).toMatch(/^\/ui\/sign-in/);
    }
  });

  it("ends the sessions of a key when the key is revoked", async () => {
    const { id, key } = await newKey("revoked-while-signed-in", ["write"]);
    const cookie = await signIn(key);
    expect((await getPage("/ui/features", cookie)).status).toBe(200);
    await callJson("DELETE", `/api/v1/keys/${id}`, 204);
    const after = await uiCall("GET", "/ui/features", { headers: { cookie } });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toMatch(/^\/ui\/sign-in/);
    expect(after.headers.getSetCookie().some((c) => c.startsWith("__Host-fstore_session=;") && /Max-Age=0/.test(c))).toBe(true);
  });

  it("sign-out ends the session: the same cookie no longer works", async () => {
    const cookie = await signIn();
    const page = await getPage("/ui/features", cookie);
    const res = await postForm("/ui/sign-out", cookie, { _csrf: csrfOf(page.html) });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/ui/sign-in?signed_out=1");
    expect(sessionCookieOf(new Response(null, { headers: res.headers }))).toBe("__Host-fstore_session=");
    const replay = await uiCall("GET", "/ui/features", { headers: { cookie } });
    expect(replay.status).toBe(303);
    // Other sessions of the same key go on.
    const other = await signIn();
    expect((await getPage("/ui/features", other)).status).toBe(200);
  });
});

describe("cross-site request forgery", () => {
  it("refuses a form post without the CSRF token and changes nothing", async () => {
    const cookie = await signIn();
    const before = await keyCount();
    const res = await postForm("/ui/keys", cookie, { name: "csrf-victim", scope: "admin" });
    expect(res.status).toBe(403);
    expect(res.html).toContain("nothing was changed");
    expect(await keyCount()).toBe(before);
  });

  it("refuses a post from another origin, or marked cross-site, even with a valid token", async () => {
    const cookie = await signIn();
    const token = csrfOf((await getPage("/ui/keys", cookie)).html);
    const before = await keyCount();
    const attempts = [
      { origin: "https://evil.example" },
      { origin: "null" },
      { origin: null, headers: { "sec-fetch-site": "cross-site" } },
      { origin: null },
      { origin: "http://fstore.test.evil.example" },
    ];
    for (const attempt of attempts) {
      const res = await postForm("/ui/keys", cookie, { name: "csrf-victim", scope: "admin", _csrf: token }, attempt);
      expect(res.status, JSON.stringify(attempt)).toBe(403);
      expect(res.html).toContain("another site");
    }
    // text/plain is a "simple" cross-site body too.
    const plain = await uiCall("POST", "/ui/keys", { body: `name=x&scope=admin&_csrf=${token}`, headers: { cookie, "content-type": "text/plain", origin: "https://evil.example" } });
    expect(plain.status).toBe(403);
    expect(await keyCount()).toBe(before);
  });

  it("refuses the CSRF token of another session", async () => {
    const mine = await signIn();
    const theirs = await signIn();
    const theirToken = csrfOf((await getPage("/ui/keys", theirs)).html);
    const before = await keyCount();
    const res = await postForm("/ui/keys", mine, { name: "csrf-victim", scope: "read", _csrf: theirToken });
    expect(res.status).toBe(403);
    expect(await keyCount()).toBe(before);
  });

  it("refuses a sign-in posted from another site", async () => {
    const res = await postForm("/ui/sign-in", undefined, { key: ADMIN_KEY }, { origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-fstore_session=ey"))).toBe(false);
  });
});

describe("an unconfigured deployment", () => {
  it("refuses to sign anyone in, and says why, when FSTORE_ADMIN_KEY is not set", async () => {
    const cookie = await signIn();
    const unconfigured = (path: string, init: RequestInit) =>
      worker.fetch(new Request(`${ORIGIN}${path}`, { ...init, redirect: "manual" }), { ...env, FSTORE_ADMIN_KEY: undefined } as never, createExecutionContext());
    const signInRes = await unconfigured("/ui/sign-in", {
      method: "POST",
      body: new URLSearchParams({ key: ADMIN_KEY }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
    });
    expect(signInRes.status).toBe(503);
    expect(await signInRes.text()).toContain("FSTORE_ADMIN_KEY");
    expect(signInRes.headers.getSetCookie()).toEqual([]);
    const page = await unconfigured("/ui/features", { headers: { cookie } });
    expect(page.status).toBe(503);
  });
});

describe("response headers", () => {
  it("pages forbid framing, inline scripts and caching of signed-in content", async () => {
    const page = await getPage("/ui/features", await signIn());
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.html.startsWith("<!doctype html>")).toBe(true);
    expect(page.html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
  });

  it("serves its stylesheet and script itself, without a session", async () => {
    const css = await uiCall("GET", "/ui/assets/style.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
    const js = await uiCall("GET", "/ui/assets/app.js");
    expect(js.status).toBe(200);
    expect(await js.text()).toContain("/ui/runs/live");
  });

  it("answers an unknown dashboard path with an HTML 404 page", async () => {
    const page = await getPage("/ui/no-such-page");
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toContain("text/html");
  });
});

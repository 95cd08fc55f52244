/**
 * Signing in and out. Sign-in checks the API key exactly as the API checks a bearer key, then
 * sets the session cookie (a signed token naming the key's id, never the key). Sign-out marks the
 * session ended server-side and clears the cookie, so a copy of the cookie stops working too.
 */
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { checkApiKey, endSession } from "../data";
import { currentSession, safeNext, sessionSecret, signedIn, type UiEnv } from "../guard";
import { BarePage, Notice, render } from "../layout";
import { clearSessionCookie, issueSession, setSessionCookie } from "../session";

/** Printable ASCII without spaces, as API keys are; anything else cannot be a key (nor a header value). */
const KEY_SHAPE = /^[\x21-\x7e]{1,512}$/;

const SignInForm: FC<{ next: string; error?: string; info?: string; insecure: boolean }> = ({ next, error, info, insecure }) => (
  <BarePage title="Sign in">
    <div class="signin card">
      <h1>Sign in to FStore</h1>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {info ? <Notice kind="ok">{info}</Notice> : null}
      {insecure ? (
        <Notice kind="info">
          This page was served over plain HTTP from a host that is not localhost. The session cookie is Secure, so your browser will only keep it
          over HTTPS (or on localhost).
        </Notice>
      ) : null}
      <form method="post" action="/ui/sign-in">
        <input type="hidden" name="next" value={next} />
        <label>
          API key
          <input type="password" name="key" autocomplete="off" autofocus required maxlength={512} />
        </label>
        <p class="muted small">
          The admin key (<code>FSTORE_ADMIN_KEY</code>) or a key created under Keys. The key is checked once and is not stored in the browser; the
          session lasts 8 hours.
        </p>
        <button type="submit">Sign in</button>
      </form>
    </div>
  </BarePage>
);

function insecureOrigin(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
}

export const signInRoutes = new Hono<UiEnv>()
  .get("/sign-in", async (c) => {
    const next = safeNext(c.req.query("next"));
    if (await currentSession(c)) return c.redirect(next, 303);
    const info = c.req.query("signed_out") === "1" ? "You are signed out." : undefined;
    c.header("cache-control", "no-store");
    return render(c, <SignInForm next={next} info={info} insecure={insecureOrigin(c.req.url)} />);
  })
  .post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(form.next);
    const key = typeof form.key === "string" ? form.key.trim() : "";
    c.header("cache-control", "no-store");
    const insecure = insecureOrigin(c.req.url);
    if (key === "") return render(c, <SignInForm next={next} error="Enter an API key." insecure={insecure} />, 400);
    if (!KEY_SHAPE.test(key)) {
      return render(c, <SignInForm next={next} error="That is not an API key: keys are printable characters without spaces." insecure={insecure} />, 400);
    }
    const keyId = await checkApiKey(c.env, key); // NOT_CONFIGURED → 503 page
    if (keyId === null) {
      // The message never repeats the key.
      return render(c, <SignInForm next={next} error="That key was not accepted: it is unknown or has been revoked." insecure={insecure} />, 401);
    }
    const { token } = await issueSession(sessionSecret(c.env), keyId);
    setSessionCookie(c, token);
    return c.redirect(next, 303);
  })
  .post("/sign-out", signedIn, async (c) => {
    const session = c.get("session");
    await endSession(c.env, session.sid, session.exp);
    clearSessionCookie(c);
    return c.redirect("/ui/sign-in?signed_out=1", 303);
  });

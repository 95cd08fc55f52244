/**
 * Dashboard sessions. Signing in with an API key sets a cookie holding a signed, expiring token
 * (an HS256 JWT: key id, session id, issue and expiry times) — never the key itself. The signing
 * key is derived with HKDF-SHA256 from the Worker secret FSTORE_ADMIN_KEY (info "fstore/ui-session/v1"),
 * so rotating the admin key ends every dashboard session at once.
 *
 * Each form carries a CSRF token: an HMAC of the session id under the same key, so a token is
 * good for one session only and cannot be computed without the secret.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { sign, verify } from "hono/jwt";

/** A session lasts this long from sign-in (no sliding renewal). */
const SESSION_SECONDS = 8 * 60 * 60;
/** Sent as `__Host-fstore_session`: Secure, Path=/, no Domain, so no subdomain can set or read it. */
const COOKIE = "fstore_session";

export interface Session {
  /** The API key's id, or BOOTSTRAP_KEY_ID for FSTORE_ADMIN_KEY. */
  keyId: string;
  /** Random id of this session: what sign-out ends and what the CSRF token is bound to. */
  sid: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export const BOOTSTRAP_KEY_ID = "bootstrap-admin";

const signingKeys = new Map<string, Promise<CryptoKey>>();

function signingKey(secret: string): Promise<CryptoKey> {
  let key = signingKeys.get(secret);
  if (!key) {
    const enc = new TextEncoder();
    key = crypto.subtle
      .importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: enc.encode("fstore"), info: enc.encode("fstore/ui-session/v1") },
          material,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign", "verify"],
        ),
      );
    // Only ever one or two secrets per isolate (the admin key, and the new one while rotating).
    if (signingKeys.size > 4) signingKeys.clear();
    signingKeys.set(secret, key);
  }
  return key;
}

const base64url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A new session token for `keyId`, issued at `nowSeconds`. */
export async function issueSession(secret: string, keyId: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<{ token: string; session: Session }> {
  const sid = base64url(crypto.getRandomValues(new Uint8Array(18)).buffer);
  const exp = nowSeconds + SESSION_SECONDS;
  const token = await sign({ sub: keyId, sid, iat: nowSeconds, exp }, await signingKey(secret), "HS256");
  return { token, session: { keyId, sid, exp } };
}

/** The session a token holds, or null when it is malformed, forged, expired or signed under another secret. */
export async function readSession(secret: string, token: string): Promise<Session | null> {
  try {
    const payload = await verify(token, await signingKey(secret), "HS256");
    const { sub, sid, exp } = payload;
    if (typeof sub !== "string" || typeof sid !== "string" || typeof exp !== "number") return null;
    return { keyId: sub, sid, exp };
  } catch {
    return null;
  }
}

/** The CSRF token of a session: HMAC-SHA256 of its id. */
export async function csrfToken(secret: string, sid: string): Promise<string> {
  return base64url(await crypto.subtle.sign("HMAC", await signingKey(secret), new TextEncoder().encode(`csrf:${sid}`)));
}

export async function csrfTokenMatches(secret: string, sid: string, presented: unknown): Promise<boolean> {
  if (typeof presented !== "string" || presented.length === 0) return false;
  const expected = new TextEncoder().encode(await csrfToken(secret, sid));
  const given = new TextEncoder().encode(presented);
  return expected.byteLength === given.byteLength && crypto.subtle.timingSafeEqual(expected, given);
}

export function sessionCookie(c: Context): string | undefined {
  return getCookie(c, COOKIE, "host");
}

export function setSessionCookie(c: Context, token: string): void {
  setCookie(c, COOKIE, token, { prefix: "host", path: "/", httpOnly: true, secure: true, sameSite: "Strict", maxAge: SESSION_SECONDS });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, COOKIE, { prefix: "host", path: "/", httpOnly: true, secure: true, sameSite: "Strict" });
}

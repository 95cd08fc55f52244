/**
 * The dashboard's sign-in, sessions, keys and scopes in a real browser (Chromium) against
 * `wrangler dev`: a bad key is refused, the session cookie is what the browser keeps (not the
 * key), sign-out ends the session, keys are created and revoked from the Keys page, a read-only
 * key sees no admin or write actions, and a form posted from another site changes nothing.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openBrowser, signIn, type Browser } from "./browser";

const url = inject("e2eUrl");
const adminKey = inject("e2eAdminKey");

async function api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const keysNamed = async (name: string) => (await api<{ keys: { id: string; name: string; revoked_at: string | null }[] }>("GET", "/api/v1/keys")).body.keys.filter((k) => k.name === name);

let browser: Browser;

beforeAll(async () => {
  expect((await api("POST", "/api/v1/features", { name: "e2e_auth_sql", entity_id: "customer", query: "SELECT 1, 2" })).status).toBe(201);
  browser = await openBrowser(url);
});

afterAll(async () => {
  await browser?.close();
});

describe("dashboard sign-in in a browser", () => {
  it("refuses a bad key, then signs in; the browser holds a Secure HttpOnly SameSite=Strict session cookie, not the key", async () => {
    const { page, context } = browser;
    await page.goto("/ui/runs");
    expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
    await expect(page.getByLabel("API key").getAttribute("type")).resolves.toBe("password");

    await page.getByLabel("API key").fill("fsk_not_a_real_key_0123456789abcdef");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That key was not accepted").waitFor();
    expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
    expect(await context.cookies()).toEqual([]);

    await page.getByLabel("API key").fill(adminKey);
    await Promise.all([page.waitForURL("**/ui/runs"), page.getByRole("button", { name: "Sign in" }).click()]);
    await page.getByRole("heading", { name: "Runs" }).waitFor();

    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: "__Host-fstore_session", path: "/", httpOnly: true, secure: true, sameSite: "Strict" });
    expect(cookies[0]?.value).not.toContain(adminKey);
    // Evaluated in the page (written as text: this file is compiled without the DOM types).
    expect(await page.evaluate("document.cookie")).toBe("");
    const storage = await page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])");
    expect(storage).toBe("[[],[]]");
    expect(await page.content()).not.toContain(adminKey);
  });

  it("signs out: the session ends and pages lead back to sign-in", async () => {
    const { page, context } = browser;
    await page.goto("/ui/features");
    const cookie = (await context.cookies())[0];
    await Promise.all([page.waitForURL("**/ui/sign-in?signed_out=1"), page.getByRole("button", { name: "Sign out" }).click()]);
    await page.getByText("You are signed out.").waitFor();
    expect(await context.cookies()).toEqual([]);
    // The old cookie, put back by hand, is refused too.
    await context.addCookies([cookie as NonNullable<typeof cookie>]);
    await page.goto("/ui/features");
    expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
  });
});

describe("keys and scopes in a browser", () => {
  it("creates a read-only key on the Keys page; signed in with it, no admin or write action is offered or allowed", async () => {
    const { page } = browser;
    await signIn(page, adminKey, "/ui/keys");
    await page.getByLabel("Name").fill("e2e-reader");
    await page.getByRole("checkbox", { name: "read" }).check();
    await page.getByRole("checkbox", { name: "write" }).uncheck();
    await page.getByRole("button", { name: "Create key" }).click();
    const readKey = (await page.locator("#new-key").textContent()) as string;
    expect(readKey).toMatch(/^fsk_/);
    expect(await keysNamed("e2e-reader")).toHaveLength(1);
    // Shown once: reloading the keys page does not show it again.
    await page.goto("/ui/keys");
    expect(await page.content()).not.toContain(readKey);

    await Promise.all([page.waitForURL("**/ui/sign-in?signed_out=1"), page.getByRole("button", { name: "Sign out" }).click()]);
    await signIn(page, readKey);
    await page.getByRole("heading", { name: "Features" }).waitFor();
    await expect(page.getByRole("navigation").getByRole("link").allTextContents()).resolves.toEqual(["Features", "Online lookup", "Runs", "Connectors", "Streams"]);
    await page.goto("/ui/features/e2e_auth_sql");
    await page.getByRole("heading", { name: "e2e_auth_sql" }).waitFor();
    expect(await page.getByRole("button", { name: "Run now" }).count()).toBe(0);
    const refused = await page.goto("/ui/keys");
    expect(refused?.status()).toBe(403);
    await page.getByText("lacks the 'admin' scope").waitFor();
  });

  it("revokes a key from the Keys page: its open session ends", async () => {
    const created = await api<{ id: string; key: string }>("POST", "/api/v1/keys", { name: "e2e-revoked", scopes: ["write"] });
    const other = await openBrowser(url);
    try {
      await signIn(other.page, created.body.key);
      await other.page.getByRole("heading", { name: "Features" }).waitFor();

      const { page } = browser;
      await Promise.all([page.waitForURL("**/ui/sign-in?signed_out=1"), page.getByRole("button", { name: "Sign out" }).click()]);
      await signIn(page, adminKey, "/ui/keys");
      page.once("dialog", (dialog) => void dialog.accept());
      await Promise.all([page.waitForURL(`**/ui/keys?revoked=${created.body.id}`), page.locator(`#key-${created.body.id}`).getByRole("button", { name: "Revoke" }).click()]);
      await page.getByText(`Key ${created.body.id} revoked`).waitFor();
      expect((await keysNamed("e2e-revoked"))[0]?.revoked_at).not.toBeNull();

      await other.page.reload();
      expect(new URL(other.page.url()).pathname).toBe("/ui/sign-in");
    } finally {
      await other.close();
    }
  });
});

describe("cross-site requests in a browser", () => {
  let attacker: Server;
  let attackerUrl: string;

  beforeAll(async () => {
    // Another site (localhost is not the same site as 127.0.0.1) with a form aimed at the dashboard.
    attacker = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><form method="post" action="${url}/ui/keys">
        <input name="name" value="e2e-csrf-victim"><input name="scope" value="admin"><input name="_csrf" value="guessed">
        <button type="submit">Win a prize</button></form>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
  });

  afterAll(
    () =>
      new Promise<void>((resolve) => {
        attacker.close(() => resolve());
        attacker.closeAllConnections(); // the browser keeps its connection alive
      }),
  );

  it("a form posted from another site while signed in creates nothing", async () => {
    const { page } = browser;
    await page.goto("/ui/features");
    if (new URL(page.url()).pathname === "/ui/sign-in") await signIn(page, adminKey);
    await page.goto(attackerUrl);
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Win a prize" }).click()]);
    await page.waitForURL((u) => u.origin === new URL(url).origin);
    expect(await keysNamed("e2e-csrf-victim")).toEqual([]);
    // The session itself is untouched.
    await page.goto("/ui/features");
    expect(new URL(page.url()).pathname).toBe("/ui/features");
  });
});

/**
 * `/docs` in a real browser (Debian's Chromium driven by playwright-core) with no network: every
 * request that does not go to the e2e wrangler dev is refused and recorded. The interactive
 * reference must render FStore's operations from the Worker's own assets; without its script the
 * page must still list them. `GET /` must lead to the reference and the dashboard.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { url } from "./helpers";

const origin = new URL(url).origin;
const profile = mkdtempSync(path.join(tmpdir(), "fstore-chromium-"));
let browser: BrowserContext;
/** Requests the page tried to send anywhere but FStore. */
const elsewhere: string[] = [];

beforeAll(async () => {
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  await browser.route("**/*", (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    elsewhere.push(route.request().url());
    return route.abort("internetdisconnected");
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe("/docs offline", () => {
  it("renders the interactive reference of FStore's operations from its own assets", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${url}/docs`);
    expect(response?.status()).toBe(200);
    const app = page.locator("#app");
    await app.getByText("Register a feature").first().waitFor({ state: "visible", timeout: 30_000 });
    for (const summary of ["Push one value of a feature", "Create a connector (admin); secrets are encrypted at rest", "Run a SQL or file feature now (write)"]) {
      await expect(app.getByText(summary).first().isVisible()).resolves.toBe(true);
    }
    await expect(page.locator("#fallback").isHidden()).resolves.toBe(true);
    expect(elsewhere).toEqual([]);
    await page.close();
  });

  it("lists the operations in plain HTML when the reference's script cannot load", async () => {
    const page = await browser.newPage();
    await page.route("**/vendor/scalar/**", (route) => route.abort("failed"));
    await page.goto(`${url}/docs`);
    const fallback = page.locator("#fallback");
    await expect(fallback.isVisible()).resolves.toBe(true);
    const text = await fallback.innerText();
    expect(text).toMatch(/POST\s*\/api\/v1\/features — Register a feature/);
    expect(text).toMatch(/GET\s*\/api\/v1\/features\/\{id\}\/values\/\{entity_id\} — Latest value of a feature for one entity/);
    expect(text).toContain("/openapi.json");
    await page.close();
  });

  it("GET / in a browser links to the reference and the dashboard", async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await expect(page.getByRole("link", { name: "API reference" }).getAttribute("href")).resolves.toBe("/docs");
    await expect(page.getByRole("link", { name: "Dashboard" }).getAttribute("href")).resolves.toBe("/ui");
    await page.close();
    const json = (await fetch(`${url}/`).then((r) => r.json())) as { links: Record<string, string> };
    expect(json.links).toMatchObject({ docs: "/docs", dashboard: "/ui", openapi: "/openapi.json" });
  });
});

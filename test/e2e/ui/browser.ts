/**
 * A real browser for the dashboard tests: Debian's Chromium (installed by `.ci/run` with apt;
 * CHROMIUM_PATH overrides the path) driven by playwright-core, which never downloads a browser
 * of its own. Each browser gets a fresh profile directory, removed when it closes.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { expect } from "vitest";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser; fails if any page logged a script error. */
  close(): Promise<void>;
}

export async function openBrowser(baseURL: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's package ('apt-get install -y chromium', as .ci/run does) or set CHROMIUM_PATH.`);
  }
  const profile = mkdtempSync(path.join(tmpdir(), "fstore-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    baseURL,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Scripts must run without errors on every page, and nothing may be blocked by the CSP.
  const problems: string[] = [];
  context.on("weberror", (err) => problems.push(`script error: ${err.error().message}`));
  context.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      expect(problems).toEqual([]);
    },
  };
}

/** Signs in through the form, as a person would, and waits for the page it leads to. */
export async function signIn(page: Page, key: string, from = "/ui/features"): Promise<void> {
  await page.goto(from);
  expect(new URL(page.url()).pathname).toBe("/ui/sign-in");
  await page.getByLabel("API key").fill(key);
  await Promise.all([page.waitForURL((u) => u.pathname !== "/ui/sign-in"), page.getByRole("button", { name: "Sign in" }).click()]);
}

/** Hang guard for waits on the server (runs, queues) on a loaded CI machine; not a performance bound. */
export const WAIT_MS = 45_000;

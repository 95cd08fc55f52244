/**
 * The dashboard with a feature name two groups share: the list links each feature by its ref
 * (group:name), the feature page opens by that ref (':' plain or URL-encoded) and a bare
 * ambiguous name is a 400 page naming the candidates; pages with repeated names keep every
 * feature exactly once.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, registerFeature } from "./helpers";
import { getPage, signIn, unescapeHtml } from "./ui-helpers";

let cookie: string;

beforeAll(async () => {
  cookie = await signIn();
  for (const group of ["uiref_a", "uiref_b", "uiref_c"]) await registerFeature({ name: "uiref_rate", entity_id: "driver_id", feature_group: group });
  await registerFeature({ name: "uiref_solo", entity_id: "driver_id", feature_group: "uiref_a" });
  await callJson("POST", "/api/v1/features/uiref_b:uiref_rate/values", 200, { body: { entity_id: "d1", value: 0.5, timestamp: "2024-01-01T00:00:00Z" } });
});

describe("dashboard with names shared across feature groups", () => {
  it("links each feature by its ref and opens its page by group:name", async () => {
    const list = await getPage("/ui/features?q=uiref", cookie);
    expect(list.status).toBe(200);
    const links = [...list.html.matchAll(/<td><a href="\/ui\/features\/([^"]+)">/g)].map((m) => decodeURIComponent(unescapeHtml(m[1] as string)));
    expect(links).toEqual(["uiref_a:uiref_rate", "uiref_b:uiref_rate", "uiref_c:uiref_rate", "uiref_solo"]);

    for (const path of ["/ui/features/uiref_b:uiref_rate", "/ui/features/uiref_b%3Auiref_rate"]) {
      const page = await getPage(path, cookie);
      expect(page.status).toBe(200);
      expect(page.html).toContain("<h1>uiref_b:uiref_rate</h1>");
      expect(page.html).toContain(`/ui/runs?feature=${encodeURIComponent("uiref_b:uiref_rate")}`);
      expect(page.html).toContain("d1");
    }
    expect((await getPage("/ui/features/uiref_solo", cookie)).status).toBe(200);
    expect((await getPage("/ui/runs?feature=uiref_b%3Auiref_rate", cookie)).status).toBe(200);
  });

  it("answers a bare ambiguous name with a 400 page listing the candidates", async () => {
    const page = await getPage("/ui/features/uiref_rate", cookie);
    expect(page.status).toBe(400);
    expect(unescapeHtml(page.html)).toContain("uiref_a:uiref_rate, uiref_b:uiref_rate, uiref_c:uiref_rate");
  });

  it("pages through repeated names without skipping or repeating one", async () => {
    const seen: string[] = [];
    let url: string | null = "/ui/features?q=uiref&limit=1";
    while (url) {
      const page = await getPage(url, cookie);
      expect(page.status).toBe(200);
      seen.push(...[...page.html.matchAll(/<td><a href="\/ui\/features\/([^"]+)">/g)].map((m) => decodeURIComponent(unescapeHtml(m[1] as string))));
      const next = /<a href="([^"]+)"[^>]*>Next/.exec(page.html);
      url = next ? unescapeHtml(next[1] as string) : null;
      expect(seen.length).toBeLessThan(10);
    }
    expect(seen).toEqual(["uiref_a:uiref_rate", "uiref_b:uiref_rate", "uiref_c:uiref_rate", "uiref_solo"]);
  });
});

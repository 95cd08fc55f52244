/**
 * Server-side pagination at volume: 10,000 features and 1,000 runs, walked page by page through
 * the dashboard's own Next/Previous links, forwards and back, with and without filters — every
 * row exactly once, in order. The rows are seeded with SQL straight into D1: registering 10,000
 * features through the API would take minutes here, and registration is not what is under test.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { getPage, signIn, unescapeHtml } from "./ui-helpers";

const FEATURES = 10_000;
const RUNS = 1_000;
const GROUPS = 40;
const BASE_MS = 1_700_000_000_000;

const featureName = (i: number) => `bulk_${String(i).padStart(5, "0")}`;
const runId = (i: number) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
const STATUSES = ["succeeded", "failed", "succeeded", "running"] as const;

let cookie: string;

beforeAll(async () => {
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO features (name, entity_id, feature_group, value_type, source_type, source, tags, created_at, updated_at)
         WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1)
         SELECT printf('bulk_%05d', i), 'customer', printf('bulk_group_%02d', i % ?2), CASE WHEN i % 3 = 0 THEN 'int' ELSE 'float' END,
                CASE WHEN i % 10 = 0 THEN 'sql' ELSE 'push' END, CASE WHEN i % 10 = 0 THEN '{"query":"SELECT 1, 2","connector":"bulk_pg"}' ELSE '{}' END,
                '{}', ?3, ?3
           FROM seq`,
    ).bind(FEATURES, GROUPS, BASE_MS),
    // Values for every 100th feature: three entities each.
    env.DB.prepare(
      `INSERT INTO feature_values (feature_id, entity_id, ts, value)
         SELECT f.id, 'c' || e.value, ?1 + e.value, '1.5' FROM features f, json_each('[1,2,3]') e WHERE f.name LIKE 'bulk_%00'`,
    ).bind(BASE_MS * 1000),
    env.DB.prepare(`INSERT INTO feature_latest (feature_id, entity_id, ts, value) SELECT feature_id, entity_id, ts, value FROM feature_values`),
    // One feature with more entities than the list counts.
    env.DB.prepare(
      `INSERT INTO feature_latest (feature_id, entity_id, ts, value)
         WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 10000)
         SELECT (SELECT id FROM features WHERE name = 'bulk_09999'), 'e' || i, ?1, '2' FROM seq`,
    ).bind(BASE_MS * 1000),
    // Runs of the SQL features; pairs share a creation time, so the order also rests on the tie-break.
    env.DB.prepare(
      `INSERT INTO runs (id, feature_id, status, trigger, rows_read, rows_written, created_at, started_at, finished_at)
         WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1)
         SELECT printf('%08x-0000-4000-8000-%012x', i, i), (SELECT id FROM features WHERE name = printf('bulk_%05d', (i % 1000) * 10)),
                CASE i % 4 WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' WHEN 2 THEN 'succeeded' ELSE 'running' END,
                CASE WHEN i % 5 = 0 THEN 'manual' ELSE 'schedule' END, i, i, ?2 + (i / 2) * 1000, ?2 + (i / 2) * 1000,
                CASE i % 4 WHEN 3 THEN NULL ELSE ?2 + (i / 2) * 1000 + 500 END
           FROM seq`,
    ).bind(RUNS, BASE_MS),
  ]);
  cookie = await signIn();
});

/** Follows the page's "Next →" (or "← Previous") link until there is none; returns the hrefs matched on each page. */
async function walk(start: string, row: RegExp, direction: "Next →" | "← Previous"): Promise<{ pages: string[][]; last: string }> {
  const pages: string[][] = [];
  let url: string | null = start;
  let last = start;
  const link = direction === "Next →" ? /<a href="([^"]+)">Next →<\/a>/ : /<a href="([^"]+)">← Previous<\/a>/;
  while (url !== null) {
    const page = await getPage(url, cookie);
    expect(page.status, url).toBe(200);
    pages.push([...page.html.matchAll(row)].map((m) => m[1] as string));
    last = url;
    const next = link.exec(page.html);
    url = next ? unescapeHtml(next[1] as string) : null;
    expect(pages.length).toBeLessThan(1000); // a guard against a cursor that never ends
  }
  return { pages, last };
}

const FEATURE_ROW = /<td><a href="\/ui\/features\/(bulk_\d{5})">/g;
const RUN_ROW = /<a href="\/ui\/runs\/([0-9a-f-]{36})">/g;

describe("pagination at volume", () => {
  it("walks all 10,000 features forwards and back, each exactly once and in name order", async () => {
    const expected = Array.from({ length: FEATURES }, (_, i) => featureName(i));
    const first = await getPage("/ui/features?q=bulk&limit=200", cookie);
    expect(first.html).toContain("10,000 matching");

    const forward = await walk("/ui/features?q=bulk&limit=200", FEATURE_ROW, "Next →");
    expect(forward.pages).toHaveLength(50);
    expect(forward.pages.every((p) => p.length === 200)).toBe(true);
    expect(forward.pages.flat()).toEqual(expected);

    const back = await walk(forward.last, FEATURE_ROW, "← Previous");
    expect(back.pages).toHaveLength(50);
    expect(back.pages.reverse().flat()).toEqual(expected);
  });

  it("paginates a filtered list, and shows freshness and entity counts per feature", async () => {
    const group = "bulk_group_07";
    const expected = Array.from({ length: FEATURES }, (_, i) => i)
      .filter((i) => i % GROUPS === 7 && i % 3 === 0)
      .map(featureName);
    const walked = await walk(`/ui/features?group=${group}&type=int&limit=25`, FEATURE_ROW, "Next →");
    expect(walked.pages.flat()).toEqual(expected);
    expect(walked.pages).toHaveLength(Math.ceil(expected.length / 25));

    const withValues = await getPage("/ui/features?q=bulk_001&limit=200", cookie);
    const row = /<a href="\/ui\/features\/bulk_00100">[\s\S]*?<\/tr>/.exec(withValues.html)?.[0] ?? "";
    expect(row).toContain('<td class="num">3</td>');
    expect(row).toMatch(/\d+d ago/);
    const without = /<a href="\/ui\/features\/bulk_00101">[\s\S]*?<\/tr>/.exec(withValues.html)?.[0] ?? "";
    expect(without).toContain("no values");
    expect(without).toContain('<td class="num">0</td>');

    // Counts in the list stop at 10,000; the feature's page counts exactly.
    const many = await getPage("/ui/features?q=bulk_0999&limit=200", cookie);
    expect(/<a href="\/ui\/features\/bulk_09999">[\s\S]*?<\/tr>/.exec(many.html)?.[0]).toContain('<td class="num">10,000+</td>');
    expect((await getPage("/ui/features/bulk_09999", cookie)).html).toContain("10,001 with a value");
  });

  it("walks all 1,000 runs newest first, forwards and back, and filters them by status and feature", async () => {
    // Newest first; within a shared creation time, the later insert first.
    const expected = Array.from({ length: RUNS }, (_, i) => RUNS - 1 - i).map(runId);
    const forward = await walk("/ui/runs?limit=100", RUN_ROW, "Next →");
    expect(forward.pages).toHaveLength(10);
    expect(forward.pages.flat()).toEqual(expected);
    const back = await walk(forward.last, RUN_ROW, "← Previous");
    expect(back.pages.reverse().flat()).toEqual(expected);

    const failed = await walk("/ui/runs?status=failed&limit=60", RUN_ROW, "Next →");
    expect(failed.pages.flat()).toEqual(expected.filter((id) => STATUSES[parseInt(id.slice(0, 8), 16) % 4] === "failed"));

    const ofOne = await walk(`/ui/runs?feature=${featureName(30)}&limit=50`, RUN_ROW, "Next →");
    expect(ofOne.pages.flat()).toEqual([runId(3)]);
  });
});

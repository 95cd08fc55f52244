/**
 * The object-store contract (in the style of Feast's universal tests): every data-lake connector
 * passes the same tests against its real server, over HTTP against the Worker. A target supplies
 * its connector type and config, a way to write an object, how run errors name a file, and its
 * wrong credentials; the files (test/setup/lake-services.ts) are the same in every store.
 *
 * Covered: same files in → same values out (Parquet from two writers, CSV, JSON, NDJSON); globs;
 * listing more keys than one page; ETag skip and pick-up of a changed file; a bad file failing
 * alone; wrong credentials; large files continued across invocations from their cursor; Parquet
 * TIMESTAMP(MICROS), TIMESTAMP(NANOS) and INT96 kept to the microsecond.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, registerFeature, waitForRun } from "../helpers";
import {
  CORRUPT_BAD,
  CORRUPT_GOOD,
  CORRUPT_ROWS,
  fixtureRow,
  FORMAT_ROWS,
  isoOf,
  LARGE_FILES,
  LARGE_ROWS,
  MANY_FILES,
  manyKey,
  PRECISE_FILES,
  PRECISE_ROWS,
  preciseIso,
  TEST_ROWS_PER_INVOCATION,
} from "../lake-fixtures";
import { createConnector, expectFixtureValues, ingest, latest, materialize, runFiles, type Run } from "../lake-helpers";

export interface ObjectStoreTarget {
  /** How test titles name the target. */
  name: string;
  /** Prefix of this target's connectors and features. */
  prefix: string;
  /** Connector type. */
  type: string;
  config(over?: Record<string, unknown>): Record<string, unknown>;
  /** Writes (or overwrites) an object with credentials that may write. */
  put(key: string, body: string): Promise<void>;
  /** How run errors name the object `key` (`s3://bucket/key`, `abfs://container@account/key`). */
  location(key: string): string;
  /** Credentials the store refuses, the secrets in them, and what the connection test and a run say. */
  wrongCredentials: { config: Record<string, unknown>; secrets: string[]; testSays: string; runSays: string };
}

/** One file of each format, and what its rows' entities are prefixed with (lake-fixtures.ts). */
const FORMAT_FILES = {
  "formats/hyparquet-snappy.parquet": "hs",
  "formats/duckdb-zstd.parquet": "dz",
  "formats/rows.csv": "csv",
  "formats/rows.json": "ja",
  "formats/rows.ndjson": "nd",
  "formats/lines.json": "jl",
} as const;

export function objectStoreContract(t: ObjectStoreTarget) {
  const p = t.prefix;
  const connector = `${p}_lake`;
  const run = (name: string, def: Record<string, unknown>) => ingest(`${p}_${name}`, connector, def);

  describe(`object-store contract: ${t.name}`, () => {
    beforeAll(async () => {
      await createConnector(connector, t.type, t.config());
    });

    describe("same files in, same values out", () => {
      for (const [key, prefix] of Object.entries(FORMAT_FILES)) {
        it(`${key}: every row, values and timestamps`, async () => {
          const { run: done, files } = await run(`fmt_${prefix}`, { path: key });
          expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: FORMAT_ROWS, rows_written: FORMAT_ROWS });
          expect(files.files).toMatchObject([{ key, status: "ingested", rows_read: FORMAT_ROWS }]);
          await expectFixtureValues(`${p}_fmt_${prefix}`, prefix);
        });
      }

      it("globs: * stays within one level, ** crosses levels, {a,b} and [..] pick alternatives", async () => {
        const keysOf = async (name: string, path: string) => (await run(name, { path, format: "csv" })).files.files.map((f) => f.key);
        expect(await keysOf("glob_star", "globs/2024/*/*.csv")).toEqual(["globs/2024/01/b.csv", "globs/2024/02/c.csv"]);
        expect(await keysOf("glob_globstar", "globs/**/*.csv")).toEqual([
          "globs/2023/12/a.csv",
          "globs/2024/01/b.csv",
          "globs/2024/02/c.csv",
          "globs/2024/02/deep/d.csv",
          "globs/clicks/e.csv",
          "globs/other/g.csv",
          "globs/views/f.csv",
        ]);
        expect(await keysOf("glob_braces", "globs/{clicks,views}/*.csv")).toEqual(["globs/clicks/e.csv", "globs/views/f.csv"]);
        expect(await keysOf("glob_class", "globs/202[3]/**/*.csv")).toEqual(["globs/2023/12/a.csv"]);
        expect((await latest(`${p}_glob_braces`, "views_f")).value).toBe(1);
        const none = await run("glob_none", { path: "globs/nothing-here/*.parquet" });
        expect(none.run).toMatchObject({ status: "succeeded", rows_read: 0 });
        expect(none.files).toMatchObject({ files_matched: 0, files: [] });
      });

      it(`lists more keys than one listing page: all ${MANY_FILES} files of a prefix`, { timeout: 180_000 }, async () => {
        const { run: done, files } = await run("many", { path: "many/*.csv" });
        expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: MANY_FILES });
        expect(files.files_matched).toBe(MANY_FILES);
        expect(files.files.filter((f) => f.status === "ingested")).toHaveLength(MANY_FILES);
        expect(files.files.at(-1)?.key).toBe(manyKey(MANY_FILES - 1));
        // 200 files per invocation: the run was handed on several times.
        expect(files.invocations).toBeGreaterThanOrEqual(Math.ceil(MANY_FILES / 200));
        for (const i of [0, 999, 1000, MANY_FILES - 1]) expect((await latest(`${p}_many`, `m-${i}`)).value).toBe(i);
      });
    });

    it("ETag skip: unchanged files are skipped, new and changed ones are read on the next run", async () => {
      const dir = `contract/${p}-etag`;
      await t.put(`${dir}/a.csv`, "entity_id,value,timestamp\nea,1,2024-05-01T00:00:00Z\n");
      await t.put(`${dir}/b.csv`, "entity_id,value,timestamp\neb,1,2024-05-01T00:00:00Z\n");
      const first = await run("etag", { path: `${dir}/*.csv` });
      expect(first.files.files.map((f) => [f.key, f.status])).toEqual([
        [`${dir}/a.csv`, "ingested"],
        [`${dir}/b.csv`, "ingested"],
      ]);

      const second = await materialize(`${p}_etag`);
      expect(second).toMatchObject({ status: "succeeded", rows_read: 0 });
      expect(await runFiles(second.id)).toMatchObject({ files_matched: 2, files_skipped: 2, files: [] });

      await t.put(`${dir}/b.csv`, "entity_id,value,timestamp\neb,2,2024-05-02T00:00:00Z\n");
      await t.put(`${dir}/c.csv`, "entity_id,value,timestamp\nec,3,2024-05-02T00:00:00Z\n");
      const third = await materialize(`${p}_etag`);
      expect(third).toMatchObject({ status: "succeeded", rows_read: 2, rows_written: 2 });
      const files = await runFiles(third.id);
      expect(files).toMatchObject({ files_matched: 3, files_skipped: 1 });
      expect(files.files.map((f) => [f.key, f.status])).toEqual([
        [`${dir}/b.csv`, "ingested"],
        [`${dir}/c.csv`, "ingested"],
      ]);
      expect(await latest(`${p}_etag`, "eb")).toMatchObject({ value: 2, timestamp: "2024-05-02T00:00:00Z" });
      expect((await latest(`${p}_etag`, "ec")).value).toBe(3);
      expect((await latest(`${p}_etag`, "ea")).value).toBe(1);
    });

    it("a bad file fails alone: the run fails naming it, the good files are ingested, the next run tries it again", { timeout: 60_000 }, async () => {
      const { run: done, files } = await run("corrupt", { path: "corrupt/*.parquet" });
      expect(done.status).toBe("failed");
      expect(done.error).toContain("1 of 3 files failed");
      expect(done.error).toContain(`${t.location(CORRUPT_BAD)}: not a valid Parquet file`);
      expect(files.files.map((f) => [f.key, f.status])).toEqual([
        ["corrupt/a.parquet", "ingested"],
        [CORRUPT_BAD, "failed"],
        ["corrupt/c.parquet", "ingested"],
      ]);
      expect(done.rows_written).toBe(2 * CORRUPT_ROWS);
      for (const prefix of Object.values(CORRUPT_GOOD)) expect((await latest(`${p}_corrupt`, `${prefix}-3`)).value).toBe(fixtureRow(prefix, 3).value);
      expect((await call("GET", `/api/v1/features/${p}_corrupt/values/cb-3`)).status).toBe(404);

      const again = await materialize(`${p}_corrupt`);
      expect(await runFiles(again.id)).toMatchObject({ files_skipped: 2, files: [{ key: CORRUPT_BAD, status: "failed" }] });
    });

    it("wrong credentials: the connection test says auth, a run fails saying access denied, no secret is echoed", async () => {
      const wrong = t.wrongCredentials;
      await createConnector(`${p}_wrong_key`, t.type, wrong.config);
      const test = await callJson("POST", `/api/v1/connectors/${p}_wrong_key/test`, 200);
      expect(test).toMatchObject({ ok: false, kind: "auth" });
      expect(test.message).toContain(wrong.testSays);
      const { run: done } = await ingest(`${p}_wrong_key_feature`, `${p}_wrong_key`, { path: "formats/rows.csv" });
      expect(done).toMatchObject({ status: "failed", rows_written: 0 });
      expect(done.error).toContain(wrong.runSays);
      for (const secret of wrong.secrets) {
        expect(JSON.stringify(test)).not.toContain(secret);
        expect(done.error).not.toContain(secret);
      }
    });

    describe("large files across invocations", () => {
      /** Rows on both sides of each invocation's boundary, the last one, and every row once. */
      async function expectEveryRow(name: string, prefix: string, files: { invocations: number }) {
        expect(files.invocations).toBeGreaterThanOrEqual(Math.ceil(LARGE_ROWS / TEST_ROWS_PER_INVOCATION));
        for (const i of [0, TEST_ROWS_PER_INVOCATION - 1, TEST_ROWS_PER_INVOCATION, 2 * TEST_ROWS_PER_INVOCATION + 1, LARGE_ROWS - 1]) {
          const want = fixtureRow(prefix, i);
          expect(await latest(name, want.entity_id)).toMatchObject({ value: want.value, timestamp: isoOf(want.timestamp) });
        }
        const count = await env.DB.prepare("SELECT count(*) AS n, count(DISTINCT v.entity_id) AS e FROM feature_values v JOIN features f ON f.id = v.feature_id WHERE f.name = ?1")
          .bind(name)
          .first<{ n: number; e: number }>();
        expect(count).toEqual({ n: LARGE_ROWS, e: LARGE_ROWS });
      }

      it("a Parquet file is continued through the jobs queue (202, then polled) from its cursor", { timeout: 200_000 }, async () => {
        const name = `${p}_large_parquet`;
        await registerFeature({ name, entity_id: "thing", connector, path: "large/big.parquet" });
        const queued = await callJson<Run>("POST", `/api/v1/features/${name}/materialize`, 202);
        const done = await waitForRun<Run>(queued.id);
        expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: LARGE_ROWS, rows_written: LARGE_ROWS });
        await expectEveryRow(name, LARGE_FILES["large/big.parquet"], await runFiles(done.id));
      });

      for (const key of ["large/big.csv", "large/big.json"] as const) {
        it(`${key} is resumed (?wait=true) at the byte offset of its cursor: no row lost or read twice`, { timeout: 200_000 }, async () => {
          const prefix = LARGE_FILES[key];
          const { run: done, files } = await run(`large_${prefix}`, { path: key });
          expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: LARGE_ROWS, rows_written: LARGE_ROWS });
          await expectEveryRow(`${p}_large_${prefix}`, prefix, files);
        });
      }
    });

    describe("Parquet timestamps keep microseconds", () => {
      for (const [key, type] of Object.entries(PRECISE_FILES)) {
        it(`${type}: rows 100 µs apart stay distinct, each at its exact time`, async () => {
          const name = `${p}_precise_${key.replace(/\W/g, "_")}`;
          const { run: done } = await ingest(name, connector, { path: key });
          expect(done).toMatchObject({ status: "succeeded", error: null, rows_read: PRECISE_ROWS, rows_written: PRECISE_ROWS });
          const { values } = await callJson<{ values: { entity_id: string; value: unknown; timestamp: string }[] }>("GET", `/api/v1/features/${name}/values?limit=1000`, 200);
          const expected = Array.from({ length: PRECISE_ROWS }, (_, i) => [preciseIso(i), i]);
          expect(values.map((v) => [v.timestamp, v.value]).sort()).toEqual(expected.sort());
          expect(await latest(name, "p")).toMatchObject({ value: PRECISE_ROWS - 1, timestamp: preciseIso(PRECISE_ROWS - 1) });
        });
      }
    });
  });
}

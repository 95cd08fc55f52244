/**
 * Training sets read by a reader that is not FStore's own (DuckDB, through its Node API) from a
 * real `wrangler dev`: Parquet columns are typed (DOUBLE, BIGINT, VARCHAR, BOOLEAN, DOUBLE[] for a
 * float_list, JSON encoded once, TIMESTAMP WITH TIME ZONE exact to the microsecond from 0001 to
 * 9999), and CSV keeps null (empty field) apart from the empty string (`""`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const url = inject("e2eUrl");
const headers = { authorization: `Bearer ${inject("e2eAdminKey")}`, "content-type": "application/json" };
const dir = mkdtempSync(path.join(tmpdir(), "fstore-training-"));
let duck: DuckDBConnection;

async function post(pathname: string, body: unknown, accept?: string): Promise<Response> {
  return fetch(`${url}${pathname}`, { method: "POST", headers: { ...headers, ...(accept ? { accept } : {}) }, body: JSON.stringify(body) });
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await duck.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

const features = [
  ["tf_score", "float"],
  ["tf_count", "int"],
  ["tf_label", "string"],
  ["tf_flag", "bool"],
  ["tf_embedding", "float_list"],
  ["tf_blob", "json"],
] as const;

beforeAll(async () => {
  duck = await (await DuckDBInstance.create(":memory:")).connect();
  for (const [name, value_type] of features) {
    const res = await post("/api/v1/features", { name, value_type, entity_id: "tf_user", feature_group: "tf_g" });
    expect(res.status).toBe(201);
  }
  const at = "2024-01-01T00:00:00Z";
  const items = [
    ["u1", "tf_score", 1],
    ["u1", "tf_count", 9007199254740991],
    ["u1", "tf_label", ""],
    ["u1", "tf_flag", false],
    ["u1", "tf_embedding", [1, 0.03, -0.83]],
    ["u1", "tf_blob", { tags: ["a"], w: [0.03, -0.83] }],
    ["u2", "tf_label", null],
    ["u2", "tf_blob", "text"],
  ].map(([entity_id, feature_id, value]) => ({ feature_id, entity_id, value, timestamp: at }));
  expect((await post("/api/v1/features/batch", items)).status).toBe(200);
});

afterAll(() => {
  duck?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

const names = features.map(([n]) => n);
const rows = [
  { entity_id: "u1", timestamp: "2024-06-01T00:00:00.123456Z" },
  { entity_id: "u2", timestamp: "9999-12-31T23:59:59.999999Z" },
  { entity_id: "u1", timestamp: "0001-01-01T00:00:00.000001Z" },
];

describe("training sets as another reader sees them", () => {
  it("Parquet has typed columns: LIST<DOUBLE>, JSON encoded once, TIMESTAMP(MICROS, UTC) exact from 0001 to 9999", async () => {
    const res = await post("/api/v1/historical-features", { features: names, entity_rows: rows, format: "parquet" });
    expect(res.status).toBe(200);
    const file = path.join(dir, "set.parquet");
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).map((r) => [r.column_name, r.column_type]));
    expect(types).toEqual({
      entity_id: "VARCHAR",
      timestamp: "TIMESTAMP WITH TIME ZONE",
      tf_score: "DOUBLE",
      tf_count: "BIGINT",
      tf_label: "VARCHAR",
      tf_flag: "BOOLEAN",
      tf_embedding: "DOUBLE[]",
      tf_blob: "JSON",
    });
    const got = await query(
      `SELECT entity_id, epoch_us(timestamp)::VARCHAR AS us, tf_score, tf_count::VARCHAR AS tf_count, tf_label, tf_flag, tf_embedding,
              tf_blob::VARCHAR AS blob, json_extract(tf_blob, '$.w[1]')::DOUBLE AS w1 FROM read_parquet('${file}')`,
    );
    expect(got).toEqual([
      { entity_id: "u1", us: "1717200000123456", tf_score: 1, tf_count: "9007199254740991", tf_label: "", tf_flag: false, tf_embedding: [1, 0.03, -0.83], blob: '{"tags":["a"],"w":[0.03,-0.83]}', w1: -0.83 },
      { entity_id: "u2", us: "253402300799999999", tf_score: null, tf_count: null, tf_label: null, tf_flag: null, tf_embedding: null, blob: '"text"', w1: null },
      { entity_id: "u1", us: "-62135596799999999", tf_score: null, tf_count: null, tf_label: null, tf_flag: null, tf_embedding: null, blob: null, w1: null },
    ]);
  });

  it("CSV tells null (empty field) from the empty string (\"\") and keeps floats as floats", async () => {
    const res = await post("/api/v1/historical-features", { features: names, entity_rows: rows.slice(0, 2) }, "text/csv");
    const text = await res.text();
    expect(text.split("\r\n")[1]).toBe('u1,2024-06-01T00:00:00.123456Z,1.0,9007199254740991,"",false,"[1.0,0.03,-0.83]","{""tags"":[""a""],""w"":[0.03,-0.83]}"');
    const file = path.join(dir, "set.csv");
    writeFileSync(file, text);
    // DuckDB keeps a quoted empty field apart from an empty one with allow_quoted_nulls = false (PostgreSQL's COPY does by default).
    const got = await query(`SELECT entity_id, tf_label, tf_label IS NULL AS label_is_null, tf_score FROM read_csv('${file}', allow_quoted_nulls = false)`);
    expect(got).toEqual([
      { entity_id: "u1", tf_label: "", label_is_null: false, tf_score: 1 },
      { entity_id: "u2", tf_label: null, label_is_null: true, tf_score: null },
    ]);
  });

  it("answers 400 when a training set asks for the same feature twice", async () => {
    const res = await post("/api/v1/historical-features", { features: ["tf_score", "tf_g:tf_score"], entity_rows: rows.slice(0, 1), format: "parquet" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("'tf_score' is asked for more than once");
  });
});

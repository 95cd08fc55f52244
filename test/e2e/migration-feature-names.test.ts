/**
 * Migration 0006 (feature names unique per feature group) on a database that already holds
 * features, values and runs: applied with SQLite (what D1 runs) to the schema of 0000–0005, it
 * keeps every row, and afterwards a name may repeat across groups but not within one.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";

const dir = path.resolve(import.meta.dirname, "../../migrations");
const files = readdirSync(dir).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort();

function apply(db: DatabaseSync, file: string) {
  for (const statement of readFileSync(path.join(dir, file), "utf8").split("--> statement-breakpoint")) {
    if (statement.trim()) db.exec(statement);
  }
}

describe("migration 0006_feature_names_per_group", () => {
  it("keeps existing features, values and runs, then allows a name in another group only", () => {
    const db = new DatabaseSync(":memory:");
    db.exec("PRAGMA foreign_keys = ON");
    const target = files.findIndex((f) => f.startsWith("0006_"));
    expect(target).toBeGreaterThan(0);
    for (const file of files.slice(0, target)) apply(db, file);

    const now = Date.now();
    const insertFeature = db.prepare(
      "INSERT INTO features (name, entity_id, feature_group, value_type, source_type, created_at, updated_at) VALUES (?, ?, ?, 'float', 'push', ?, ?) RETURNING id",
    );
    const conv = (insertFeature.get("conv_rate", "driver_id", "driver_hourly_stats", now, now) as { id: number }).id;
    const acc = (insertFeature.get("acc_rate", "driver_id", "driver_hourly_stats", now, now) as { id: number }).id;
    // Before: names are global.
    expect(() => insertFeature.get("conv_rate", "customer_id", "customer_stats", now, now)).toThrow(/UNIQUE/);
    db.prepare("INSERT INTO feature_values (feature_id, entity_id, ts, value) VALUES (?, '1001', 1, '0.5'), (?, '1001', 1, '0.25')").run(conv, acc);
    db.prepare("INSERT INTO feature_latest (feature_id, entity_id, ts, value) VALUES (?, '1001', 1, '0.5')").run(conv);
    db.prepare("INSERT INTO runs (id, feature_id, status, trigger, created_at) VALUES ('r1', ?, 'succeeded', 'manual', ?)").run(conv, now);

    for (const file of files.slice(target)) apply(db, file);

    expect(db.prepare("SELECT id, name, feature_group FROM features ORDER BY id").all()).toEqual([
      { id: conv, name: "conv_rate", feature_group: "driver_hourly_stats" },
      { id: acc, name: "acc_rate", feature_group: "driver_hourly_stats" },
    ]);
    expect(db.prepare("SELECT count(*) AS n FROM feature_values").get()).toEqual({ n: 2 });
    expect(db.prepare("SELECT value FROM feature_latest WHERE feature_id = ?").get(conv)).toEqual({ value: "0.5" });
    expect(db.prepare("SELECT feature_id FROM runs WHERE id = 'r1'").get()).toEqual({ feature_id: conv });

    // After: the same name in another group is a new feature; twice in one group is refused.
    const other = insertFeature.get("conv_rate", "customer_id", "customer_stats", now, now) as { id: number };
    expect(other.id).toBeGreaterThan(acc);
    expect(() => insertFeature.get("conv_rate", "driver_id", "driver_hourly_stats", now, now)).toThrow(/UNIQUE/);
    // Lookups by name use an index.
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM features WHERE name = ?").all("conv_rate") as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toMatch(/USING INDEX features_name_idx/);
    db.close();
  });
});

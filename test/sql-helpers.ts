/**
 * Shared by the SQL connector tests: connector configs for the local PostgreSQL (through the
 * pgproxy) and MariaDB, the seed formulas of test/setup/sql-seed.ts (to compute expected values),
 * and admin connections that write to the source databases (the connectors themselves only read).
 */
import { env } from "cloudflare:test";
import { Client } from "@neondatabase/serverless";
import mysql from "mysql2/promise";
import { callJson } from "./helpers";

export const DB = env.TEST_SQL_DATABASE;

export const pgConfig = (over: Record<string, unknown> = {}) => ({
  host: "127.0.0.1",
  port: 5432,
  database: DB,
  user: "postgres",
  password: "",
  ws_proxy: env.TEST_PG_PROXY,
  ...over,
});

export const mysqlConfig = (over: Record<string, unknown> = {}) => ({ host: "127.0.0.1", port: 3306, database: DB, user: "root", password: "", ...over });

export async function createConnector(name: string, type: string, config: Record<string, unknown>) {
  return callJson("POST", "/api/v1/connectors", 201, { body: { name, type, config } });
}

export interface Run {
  id: string;
  feature_id: string;
  status: string;
  trigger: string;
  rows_read: number;
  rows_written: number;
  rows_unchanged: number;
  duration_ms: number | null;
  watermark: string | null;
  error: string | null;
  invocations: number;
  created_at: string;
}

/** Runs a feature now, in the request, and returns the finished run. */
export async function materialize(feature: string): Promise<Run> {
  return callJson<Run>("POST", `/api/v1/features/${feature}/materialize?wait=true`, 200);
}

export async function latest(feature: string, entity: string | number) {
  return callJson<{ value: unknown; timestamp: string }>("GET", `/api/v1/features/${feature}/values/${entity}`, 200);
}

export async function history(feature: string) {
  return callJson<{ values: { entity_id: string; value: unknown; timestamp: string }[] }>("GET", `/api/v1/features/${feature}/values?limit=10000`, 200);
}

// --- the seed's formulas -------------------------------------------------------------------
export const orders = Array.from({ length: 600 }, (_, k) => {
  const i = k + 1;
  return { id: i, customer: (i % 20) + 1, cents: (((i * 37) % 500) / 4 + 5) * 100, daysAgo: i % 60, refunded: i % 7 === 0 };
});
export const purchases = Array.from({ length: 300 }, (_, k) => {
  const i = k + 1;
  return { id: i, customer: (i % 25) + 1, cents: (i * 13) % 1000 * 10, at: Date.UTC(2024, 0, 1) + i * 3_600_000 };
});

export function sumBy<T>(rows: T[], key: (r: T) => number, value: (r: T) => number): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + value(r));
  return out;
}

// --- writable admin connections to the sources ----------------------------------------------
/** A connected superuser session to the source database (end it when done). */
export async function pgAdminClient(): Promise<Client> {
  const c = new Client({ host: "127.0.0.1", port: 5432, user: "postgres", password: "", database: DB });
  c.neonConfig.wsProxy = env.TEST_PG_PROXY;
  c.neonConfig.useSecureWebSocket = false;
  c.neonConfig.pipelineConnect = false;
  c.on("error", () => {});
  await c.connect();
  return c;
}

/** A connected root session to the source database (end it when done). */
export const mysqlAdminConnection = () => mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", password: "", database: DB, disableEval: true });

export async function withPgAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pgAdminClient();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

export async function withMysqlAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysqlAdminConnection();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

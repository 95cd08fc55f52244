/// <reference types="@cloudflare/workers-types" />
/**
 * Bare D1 baseline for the ingest benchmark: `POST /batch` takes the same JSON array as FStore's
 * `POST /api/v1/features/batch` and writes it straight to D1 — no auth, no validation, no feature
 * lookup, no KV. The SQL is FStore's (src/ingest/sql.ts): rows travel as one JSON parameter
 * unpacked with json_each, history insert + latest upsert per chunk, all in one db.batch(), so the
 * difference between the two measures FStore's overhead rather than a different SQL strategy.
 * The tables are FStore's too (migrations/0000_init.sql here): the same NOT NULL columns, foreign
 * keys to `features` (which D1 enforces on every row) and secondary index, so both do the same
 * durable work per value. (Until 2026-11-29 they had neither, and the bare Worker did less.)
 */

interface Env {
  DB: D1Database;
}

interface Item {
  feature_id: string;
  entity_id: string;
  value: unknown;
  timestamp: string;
}

/** No registry here: every feature is id 1. */
const FEATURE_ID = 1;

// Same chunking and statements as src/ingest/sql.ts and src/db/json-rows.ts.
const CHUNK_ROWS = 1000;
const CHUNK_BYTES = 512 * 1024;

const unpack = `SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]')
  FROM json_each(?1) AS r WHERE true`;

const insertHistory = `INSERT INTO feature_values (feature_id, entity_id, ts, value) ${unpack}
  ON CONFLICT (feature_id, entity_id, ts) DO UPDATE SET value = excluded.value`;

const upsertLatest = `INSERT INTO feature_latest (feature_id, entity_id, ts, value) ${unpack}
  ON CONFLICT (feature_id, entity_id) DO UPDATE SET ts = excluded.ts, value = excluded.value
  WHERE excluded.ts >= feature_latest.ts`;

function* chunks(items: Item[]): Generator<string> {
  let parts: string[] = [];
  let bytes = 0;
  for (const item of items) {
    // Microseconds since the epoch and the JSON-encoded value, as FStore stores them.
    const part = JSON.stringify([FEATURE_ID, item.entity_id, Date.parse(item.timestamp) * 1000, JSON.stringify(item.value)]);
    if (parts.length > 0 && (parts.length >= CHUNK_ROWS || bytes + part.length > CHUNK_BYTES)) {
      yield `[${parts.join(",")}]`;
      parts = [];
      bytes = 0;
    }
    parts.push(part);
    bytes += part.length + 1;
  }
  if (parts.length > 0) yield `[${parts.join(",")}]`;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/health") {
      await env.DB.prepare("SELECT 1").first();
      return Response.json({ status: "ok" });
    }
    if (request.method === "POST" && pathname === "/batch") {
      const items = await request.json<Item[]>();
      const history = env.DB.prepare(insertHistory);
      const latest = env.DB.prepare(upsertLatest);
      const statements: D1PreparedStatement[] = [];
      for (const chunk of chunks(items)) statements.push(history.bind(chunk), latest.bind(chunk));
      if (statements.length > 0) await env.DB.batch(statements);
      return Response.json({ written: items.length });
    }
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<Env>;

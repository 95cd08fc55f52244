/**
 * The bare loop of the materialize benchmark: `POST /run {config, query, batch}` reads the query's
 * rows through a cursor in batches and writes each batch to D1 (history + latest, JSON-packed like
 * src/storage/values.ts), then answers `{rows, ms}`. The limit of FStore's sink, without FStore.
 */
import { Client } from "@neondatabase/serverless";

interface Env {
  DB: D1Database;
}

const unpack = `SELECT 1, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]') FROM json_each(?1) AS r WHERE true`;
const history = `INSERT INTO feature_values (feature_id, entity_id, ts, value) ${unpack} ON CONFLICT (feature_id, entity_id, ts) DO UPDATE SET value = excluded.value`;
const latest = `INSERT INTO feature_latest (feature_id, entity_id, ts, value) ${unpack} ON CONFLICT (feature_id, entity_id) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= feature_latest.ts`;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname !== "/run" || request.method !== "POST") return new Response("not found", { status: 404 });
    const { config, query, batch } = (await request.json()) as { config: Record<string, string | number>; query: string; batch: number };
    const started = Date.now();
    const client = new Client({ host: String(config.host), port: Number(config.port), database: String(config.database), user: String(config.user), password: "" });
    client.neonConfig.wsProxy = String(config.ws_proxy);
    client.neonConfig.useSecureWebSocket = false;
    client.neonConfig.pipelineConnect = false;
    client.on("error", () => {});
    await client.connect();
    await client.query("BEGIN READ ONLY");
    await client.query(`DECLARE c NO SCROLL CURSOR FOR ${query}`);
    const h = env.DB.prepare(history);
    const l = env.DB.prepare(latest);
    let rows = 0;
    for (;;) {
      const r = await client.query({ text: `FETCH ${batch} FROM c`, rowMode: "array" });
      const statements: D1PreparedStatement[] = [];
      for (let i = 0; i < r.rows.length; i += 1000) {
        const chunk = JSON.stringify(
          (r.rows as [string, number, string][]).slice(i, i + 1000).map(([e, v, t]) => [e, new Date(t).getTime() * 1000, JSON.stringify(v)]),
        );
        statements.push(h.bind(chunk), l.bind(chunk));
      }
      if (statements.length > 0) await env.DB.batch(statements);
      rows += r.rows.length;
      if (r.rows.length < batch) break;
    }
    await client.query("COMMIT");
    await client.end();
    return Response.json({ rows, ms: Date.now() - started });
  },
};

/// <reference types="@cloudflare/workers-types" />
/**
 * Bare stream baseline for the stream benchmark (bench/stream.mjs): speaks just enough of FStore's
 * stream contract for the same bridge — `GET /api/v1/streams` (one subscription, set with
 * `POST /subscribe`), `POST /api/v1/streams/{topic}/events` → Queue (events packed 100 per message,
 * one sendBatch per 100 messages) → 202 — and a queue consumer that inserts the events into D1
 * (INSERT OR IGNORE by id, one statement per message through json_each). `GET /count` counts them.
 */

interface Env {
  DB: D1Database;
  EVENTS: Queue<{ topic: string; events: unknown[] }>;
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return json({ ok: true });
    if (url.pathname === "/subscribe" && request.method === "POST") {
      const { topic, connector } = (await request.json()) as { topic: string; connector: unknown };
      await env.DB.prepare("INSERT OR REPLACE INTO subscription (topic, connector) VALUES (?1, ?2)").bind(topic, JSON.stringify(connector)).run();
      return json({ ok: true });
    }
    if (url.pathname === "/api/v1/streams") {
      const rows = (await env.DB.prepare("SELECT topic, connector FROM subscription").all<{ topic: string; connector: string }>()).results;
      return json({ streams: rows.map((r) => ({ topic: r.topic, connector: JSON.parse(r.connector), features: ["bare"], stats: {} })) });
    }
    const events = /^\/api\/v1\/streams\/([^/]+)\/events$/.exec(url.pathname);
    if (events && request.method === "POST") {
      const topic = decodeURIComponent(events[1]!);
      const body = (await request.json()) as unknown[];
      const messages = [];
      for (let i = 0; i < body.length; i += 100) messages.push({ body: { topic, events: body.slice(i, i + 100) } });
      for (let i = 0; i < messages.length; i += 100) await env.EVENTS.sendBatch(messages.slice(i, i + 100));
      return json({ accepted: body.length }, 202);
    }
    if (url.pathname === "/count") {
      const row = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE topic = ?1").bind(url.searchParams.get("topic")).first<{ n: number }>();
      return json({ count: row?.n ?? 0 });
    }
    return json({ error: "not found" }, 404);
  },

  async queue(batch: MessageBatch<{ topic: string; events: unknown[] }>, env: Env): Promise<void> {
    const insert = `INSERT OR IGNORE INTO events (id, topic, key, value, ts)
      SELECT json_extract(e.value, '$.id'), ?1, json_extract(e.value, '$.key'), coalesce(json_extract(e.value, '$.value'), 'null'), json_extract(e.value, '$.timestamp')
      FROM json_each(?2) AS e`;
    await env.DB.batch(batch.messages.map((m) => env.DB.prepare(insert).bind(m.body.topic, JSON.stringify(m.body.events))));
    batch.ackAll();
  },
} satisfies ExportedHandler<Env>;

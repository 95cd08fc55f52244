/**
 * Hand-built baseline for the online benchmark: a small Hono service on Node (@hono/node-server)
 * serving the same vectors from Redis — what a team would otherwise write instead of a feature
 * store. Each (group, entity) vector is a Redis hash `<prefix>vec:<group>:<entity>` with one field
 * per feature holding its JSON value and a `_ts` field holding the vector's event time (ms since the
 * epoch) — the layout of Feast's Redis online store; `<prefix>catalog` maps feature name → group.
 * bench/online.mjs seeds both.
 *
 * `POST /online-features` takes FStore's request body ({features, entity_ids}) and returns FStore's
 * response shape. It checks a bearer token, validates the body, then issues one HGETALL per
 * (group, entity) — all in a single ioredis pipeline, one round trip — and answers PRESENT or
 * NOT_FOUND per value. The catalog is loaded once at start, as a team would load its config.
 *
 * Environment: PORT (required), REDIS_URL (default redis://127.0.0.1:6379), KEY_PREFIX,
 * BENCH_TOKEN (required bearer token). Listens on 127.0.0.1 only.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Redis } from "ioredis";

const port = Number(process.env.PORT);
const prefix = process.env.KEY_PREFIX ?? "";
const token = process.env.BENCH_TOKEN;
if (!Number.isInteger(port) || port <= 0 || !token) {
  console.error("PORT and BENCH_TOKEN are required");
  process.exit(2);
}

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true, maxRetriesPerRequest: 1 });
await redis.connect();
/** feature name → group */
const catalog = new Map(Object.entries(await redis.hgetall(`${prefix}catalog`)));
if (catalog.size === 0) {
  console.error(`no catalog at ${prefix}catalog in Redis`);
  process.exit(2);
}

/** RFC 3339 in UTC, fractions only when there are any (as FStore prints them). */
const formatTime = (ms) => {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
};

const bad = (c, status, message) => c.json({ error: { message } }, status);

const app = new Hono();

app.get("/health", (c) => c.json({ status: "ok" }));

app.post("/online-features", async (c) => {
  if (c.req.header("authorization") !== `Bearer ${token}`) return bad(c, 401, "missing or wrong bearer token");
  let body;
  try {
    body = await c.req.json();
  } catch {
    return bad(c, 400, "body is not JSON");
  }
  const { features, entity_ids: entityIds } = body ?? {};
  const strings = (a, max) => Array.isArray(a) && a.length > 0 && a.length <= max && a.every((x) => typeof x === "string" && x.length > 0);
  if (!strings(features, 500) || !strings(entityIds, 1000)) return bad(c, 400, "features (1..500) and entity_ids (1..1000) must be non-empty string arrays");
  const groupOf = features.map((name) => catalog.get(name));
  const unknown = features.filter((_, i) => groupOf[i] === undefined);
  if (unknown.length > 0) return bad(c, 404, `unknown features: ${unknown.join(", ")}`);

  const groups = [...new Set(groupOf)];
  const entities = [...new Set(entityIds)];
  const pipeline = redis.pipeline();
  for (const group of groups) for (const entity of entities) pipeline.hgetall(`${prefix}vec:${group}:${entity}`);
  const replies = await pipeline.exec();
  /** `group:entity` → { hash, ts (formatted once per vector) } */
  const vectors = new Map();
  let i = 0;
  for (const group of groups) {
    for (const entity of entities) {
      const [err, hash] = replies[i++];
      if (err) throw err;
      vectors.set(`${group}:${entity}`, { hash, ts: hash._ts === undefined ? null : formatTime(Number(hash._ts)) });
    }
  }

  const results = entityIds.map((entity) => {
    const row = { entity_id: entity, values: {}, statuses: {}, event_timestamps: {} };
    features.forEach((name, f) => {
      const vector = vectors.get(`${groupOf[f]}:${entity}`);
      const raw = vector?.hash[name];
      if (raw === undefined) {
        row.values[name] = null;
        row.statuses[name] = "NOT_FOUND";
        row.event_timestamps[name] = null;
      } else {
        const value = JSON.parse(raw);
        row.values[name] = value;
        row.statuses[name] = value === null ? "NULL_VALUE" : "PRESENT";
        row.event_timestamps[name] = vector.ts;
      }
    });
    return row;
  });
  return c.json({ features, results });
});

app.onError((err, c) => {
  console.error(err);
  return bad(c, 500, err.message);
});

const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => console.log(`listening on http://127.0.0.1:${info.port}`));

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close();
    redis.disconnect();
    process.exit(0);
  });
}

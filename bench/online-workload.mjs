/**
 * The online-serving benchmark's workload, shared by the benchmark (bench/online.mjs), the bare
 * Worker (bench/bare-json-worker) and the Hono-on-Node + Redis service (bench/redis-node-service):
 * Feast's benchmark layout of 25 feature groups × 10 float features, all keyed by one entity type,
 * and deterministic values and timestamps, so every target holds — and returns — the same data.
 * Plain JavaScript without Node APIs, so the Worker can bundle it too.
 */

export const GROUPS = 25;
export const FEATURES_PER_GROUP = 10;
/** Entity type (Feast join key) of every group. */
export const ENTITY = "entity";
/** Groups a request reads: 5 groups × 10 features = 50 features, spread over the 25. */
export const REQUEST_GROUPS = [0, 5, 10, 15, 20];

export const groupName = (g) => `g${g}`;
export const featureName = (g, f) => `g${g}_f${f}`;
export const entityId = (e) => `e${e}`;

/** The 50 features of every request, group by group. */
export const REQUEST_FEATURES = REQUEST_GROUPS.flatMap((g) => Array.from({ length: FEATURES_PER_GROUP }, (_, f) => ({ group: groupName(g), name: featureName(g, f) })));

/** Value of feature f of group g for entity e: a number with up to two decimals (0.01 .. 10,000). */
export function featureValue(g, f, e) {
  const x = (Math.imul(e + 1, 2654435761) ^ Math.imul(g + 1, 40503) ^ Math.imul(f + 1, 69069)) >>> 0;
  return ((x % 1_000_000) + 1) / 100;
}

const EPOCH_2026 = Date.UTC(2026, 0, 1);

/** Event time of group g's vector of entity e, in ms since the epoch (whole seconds). */
export const eventTimeMs = (g, e) => EPOCH_2026 + (e * GROUPS + g) * 1000;

/** RFC 3339 without fractions, the way FStore prints whole-second timestamps. */
export const formatTime = (ms) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/** Parses `g{g}_f{f}` / `e{e}`; null when it is not one of ours. */
export function parseFeature(name) {
  const m = /^g(\d+)_f(\d+)$/.exec(name);
  return m ? { g: Number(m[1]), f: Number(m[2]) } : null;
}
export function parseEntity(id) {
  const m = /^e(\d+)$/.exec(id);
  return m ? Number(m[1]) : null;
}

/**
 * FStore's `POST /api/v1/online-features` answer for `ids` (entity indexes) and the request's 50
 * features, every value PRESENT: what FStore must return, and the bare Worker's fixed body.
 */
export function onlineResponse(ids) {
  return {
    features: REQUEST_FEATURES.map((x) => x.name),
    results: ids.map((e) => {
      const row = { entity_id: entityId(e), values: {}, statuses: {}, event_timestamps: {} };
      for (const { name } of REQUEST_FEATURES) {
        const { g, f } = parseFeature(name);
        row.values[name] = featureValue(g, f, e);
        row.statuses[name] = "PRESENT";
        row.event_timestamps[name] = formatTime(eventTimeMs(g, e));
      }
      return row;
    }),
  };
}

/** Feast's `POST /get-online-features` answer (column-major) for `ids`, as FStore gives it. */
export function feastResponse(ids) {
  const keys = ids.map(entityId);
  return {
    metadata: { feature_names: [ENTITY, ...REQUEST_FEATURES.map((x) => x.name)] },
    results: [
      { values: keys, statuses: keys.map(() => "PRESENT"), event_timestamps: keys.map(() => "1970-01-01T00:00:00Z") },
      ...REQUEST_FEATURES.map(({ name }) => {
        const { g, f } = parseFeature(name);
        return {
          values: ids.map((e) => featureValue(g, f, e)),
          statuses: ids.map(() => "PRESENT"),
          event_timestamps: ids.map((e) => formatTime(eventTimeMs(g, e))),
        };
      }),
    ],
  };
}

/**
 * Bare KV baseline for the online benchmark: the least a correct Worker must do to answer FStore's
 * `POST /api/v1/online-features` and Feast's `POST /get-online-features` from FStore's KV vectors —
 * parse the request, resolve feature names (a registry read from D1 once per isolate), bulk-read
 * one key per (group, entity) in reads of 100 keys, and splice the stored value and time texts
 * into the same JSON FStore answers (statuses PRESENT / NULL_VALUE / NOT_FOUND / OUTSIDE_MAX_AGE).
 * No auth, no schema validation, no D1 fallback or fills: the benchmark reads warm vectors only,
 * and checks that both answers are equal. Reports its KV use in Server-Timing like FStore does.
 * Vector format (FStore's v3): `v3:{group}:{entity}` → {"w": ms, "f": {id: [value JSON, RFC 3339]}}.
 */

/** name → { id, group, ttl } */
let catalog;

async function loadCatalog(db) {
  if (!catalog) {
    const { results } = await db.prepare("SELECT id, name, feature_group, ttl_seconds FROM features").all();
    catalog = new Map(results.map((r) => [r.name, { id: String(r.id), group: r.feature_group, ttl: r.ttl_seconds, name: r.name }]));
  }
  return catalog;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/;
function expired(time, ttl, nowMs) {
  if (ttl === null) return false;
  const m = RFC3339.exec(time);
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + Number((m[7] ?? "").padEnd(6, "0")) / 1000;
  return nowMs - ms > ttl * 1000;
}

/** Bulk-reads the vectors of `groups` × `entities` (100 keys per read); returns vectors[g][e]. */
async function readVectors(kv, groups, entities, usage) {
  const keys = [];
  for (const g of groups) for (const e of entities) keys.push(`v3:${g}:${e}`);
  const reads = [];
  for (let i = 0; i < keys.length; i += 100) reads.push(kv.get(keys.slice(i, i + 100), "text"));
  const found = await Promise.all(reads);
  usage.ops += reads.length;
  usage.keys += keys.length;
  const vectors = groups.map(() => new Array(entities.length).fill(null));
  found.forEach((map, r) => {
    for (let k = r * 100; k < Math.min(keys.length, r * 100 + 100); k++) {
      const text = map.get(keys[k]);
      if (text == null) continue;
      usage.bytes += text.length;
      vectors[Math.floor(k / entities.length)][k % entities.length] = JSON.parse(text).f;
    }
  });
  return vectors;
}

/** [value JSON, status JSON, time JSON or null] of feature `f` in `vector`. */
function cell(vector, f, nowMs) {
  const stored = vector?.[f.id];
  if (!stored) return ["null", '"NOT_FOUND"', null];
  if (expired(stored[1], f.ttl, nowMs)) return ["null", '"OUTSIDE_MAX_AGE"', `"${stored[1]}"`];
  return [stored[0], stored[0] === "null" ? '"NULL_VALUE"' : '"PRESENT"', `"${stored[1]}"`];
}

function resolve(refs, cat) {
  return refs.map((ref) => {
    const colon = ref.indexOf(":");
    const f = cat.get(colon >= 0 ? ref.slice(colon + 1) : ref);
    if (!f) throw new Error(`unknown feature ${ref}`);
    return f;
  });
}

function groupsOf(features) {
  const groups = [];
  const groupIndex = features.map((f) => {
    let g = groups.indexOf(f.group);
    if (g < 0) g = groups.push(f.group) - 1;
    return g;
  });
  return { groups, groupIndex };
}

async function online(body, env, usage) {
  const features = resolve(body.features, await loadCatalog(env.DB));
  const { groups, groupIndex } = groupsOf(features);
  const vectors = await readVectors(env.ONLINE, groups, body.entity_ids, usage);
  const now = Date.now();
  const names = features.map((f) => JSON.stringify(f.name));
  const rows = body.entity_ids.map((entity, e) => {
    let values = "";
    let statuses = "";
    let times = "";
    features.forEach((f, i) => {
      const [value, status, time] = cell(vectors[groupIndex[i]][e], f, now);
      const sep = i === 0 ? "" : ",";
      values += `${sep}${names[i]}:${value}`;
      statuses += `${sep}${names[i]}:${status}`;
      times += `${sep}${names[i]}:${time ?? "null"}`;
    });
    return `{"entity_id":${JSON.stringify(entity)},"values":{${values}},"statuses":{${statuses}},"event_timestamps":{${times}}}`;
  });
  return `{"features":[${names.join(",")}],"results":[${rows.join(",")}]}`;
}

async function feast(body, env, usage) {
  const features = resolve(body.features, await loadCatalog(env.DB));
  const [joinKey, keys] = Object.entries(body.entities)[0];
  const entities = keys.map(String);
  const { groups, groupIndex } = groupsOf(features);
  const vectors = await readVectors(env.ONLINE, groups, entities, usage);
  const now = Date.now();
  const epoch = '"1970-01-01T00:00:00Z"';
  const columns = [`{"values":${JSON.stringify(keys)},"statuses":[${keys.map(() => '"PRESENT"').join(",")}],"event_timestamps":[${keys.map(() => epoch).join(",")}]}`];
  features.forEach((f, i) => {
    const values = [];
    const statuses = [];
    const times = [];
    for (let e = 0; e < entities.length; e++) {
      const [value, status, time] = cell(vectors[groupIndex[i]][e], f, now);
      values.push(value);
      statuses.push(status);
      times.push(time ?? epoch);
    }
    columns.push(`{"values":[${values.join(",")}],"statuses":[${statuses.join(",")}],"event_timestamps":[${times.join(",")}]}`);
  });
  return `{"metadata":{"feature_names":${JSON.stringify([joinKey, ...features.map((f) => f.name)])}},"results":[${columns.join(",")}]}`;
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/health") return Response.json({ status: "ok" });
    const answer = pathname === "/api/v1/online-features" ? online : pathname === "/get-online-features" ? feast : null;
    if (request.method !== "POST" || !answer) return new Response("not found", { status: 404 });
    const usage = { ops: 0, keys: 0, bytes: 0 };
    const text = await answer(await request.json(), env, usage);
    return new Response(text, {
      headers: { "content-type": "application/json", "server-timing": `kv;desc="${usage.ops} ops, ${usage.keys} keys read (${usage.bytes} B), 0 writes (0 B)"` },
    });
  },
};

/**
 * Response bodies of online reads, built as text from vectors that are stored in the shape they
 * are served in (storage/online-cache.ts): each value's JSON and each RFC 3339 time are spliced in
 * as they are, so a 100-entity × 50-feature answer makes no per-cell objects and formats no dates.
 * Statuses: PRESENT, NOT_FOUND, NULL_VALUE (a null was written) and OUTSIDE_MAX_AGE (older than the
 * feature's ttl; value null) — the one TTL rule is time.ts `isExpired`.
 */
import type { FeatureRow } from "../db/schema";
import { isExpired, parseTimestamp, type Micros } from "../time";
import type { OnlineRead } from "./online";

/** What a cell's status says, as the API answers it. */
export type Status = "PRESENT" | "NOT_FOUND" | "NULL_VALUE" | "OUTSIDE_MAX_AGE";

/** The parsed body of `POST /api/v1/online-features` (onlineBody). */
export interface OnlineAnswer {
  features: string[];
  results: { entity_id: string; values: Record<string, unknown>; statuses: Record<string, Status>; event_timestamps: Record<string, string | null> }[];
}

const PRESENT = '"PRESENT"';
const NOT_FOUND = '"NOT_FOUND"';
const NULL_VALUE = '"NULL_VALUE"';
const OUTSIDE_MAX_AGE = '"OUTSIDE_MAX_AGE"';
/** Feast's event time for values that have none. */
const EPOCH = '"1970-01-01T00:00:00Z"';

interface Cell {
  /** Value JSON ("null" when there is none). */
  value: string;
  /** Status, as a JSON string. */
  status: string;
  /** Event time as a JSON string, or null when there is no value. */
  time: string | null;
}

/** One reusable cell per call site: the encoders read it before asking for the next. */
function cellReader(read: OnlineRead, features: FeatureRow[], now: Micros) {
  const ids = features.map((f) => String(f.id));
  const cell: Cell = { value: "null", status: NOT_FOUND, time: null };
  return (e: number, f: number): Cell => {
    const stored = read.cells[read.groupOf[f] as number]?.[e]?.[ids[f] as string];
    if (stored === undefined) {
      cell.value = "null";
      cell.status = NOT_FOUND;
      cell.time = null;
      return cell;
    }
    const [value, time] = stored;
    cell.time = `"${time}"`;
    const ttl = (features[f] as FeatureRow).ttlSeconds;
    if (ttl !== null && isExpired(parseTimestamp(time) as Micros, ttl, now)) {
      cell.value = "null";
      cell.status = OUTSIDE_MAX_AGE;
    } else {
      cell.value = value;
      cell.status = value === "null" ? NULL_VALUE : PRESENT;
    }
    return cell;
  };
}

/**
 * `POST /api/v1/online-features`: `{"features": [...], "results": [{"entity_id", "values",
 * "statuses", "event_timestamps"}, ...]}`, one result per requested entity, in request order; each
 * feature keyed by `refs` (its ref: the name while unique, else `group:name`).
 */
export function onlineBody(read: OnlineRead, features: FeatureRow[], refs: string[], entityIds: string[], now: Micros): string {
  const names = refs.map((r) => JSON.stringify(r));
  const cellAt = cellReader(read, features, now);
  const rows: string[] = [];
  for (let e = 0; e < entityIds.length; e++) {
    let values = "";
    let statuses = "";
    let times = "";
    for (let f = 0; f < features.length; f++) {
      const cell = cellAt(e, f);
      const sep = f === 0 ? "" : ",";
      const name = names[f] as string;
      values += `${sep}${name}:${cell.value}`;
      statuses += `${sep}${name}:${cell.status}`;
      times += `${sep}${name}:${cell.time ?? "null"}`;
    }
    rows.push(`{"entity_id":${JSON.stringify(entityIds[e])},"values":{${values}},"statuses":{${statuses}},"event_timestamps":{${times}}}`);
  }
  return `{"features":[${names.join(",")}],"results":[${rows.join(",")}]}`;
}

/** One online read and the features it was made for (feastBody). */
export interface ReadSet {
  read: OnlineRead;
  features: FeatureRow[];
}

/**
 * Feast's `POST /get-online-features` answer, column-major: the join keys' columns first (their
 * values exactly as the request sent them: `keyJson`), then one column per feature, in the order of
 * `columns` (each names a read set and a feature of it; several sets when the features have
 * different join keys).
 */
export function feastBody(
  keys: { joinKey: string; keyJson: string[] }[],
  sets: ReadSet[],
  columns: { set: number; index: number }[],
  names: string[],
  now: Micros,
): string {
  const readers = sets.map((s) => cellReader(s.read, s.features, now));
  const n = keys[0]?.keyJson.length ?? 0;
  const present = new Array<string>(n).fill(PRESENT).join(",");
  const epochs = new Array<string>(n).fill(EPOCH).join(",");
  const out: string[] = keys.map((k) => `{"values":[${k.keyJson.join(",")}],"statuses":[${present}],"event_timestamps":[${epochs}]}`);
  for (const { set, index } of columns) {
    const cellAt = readers[set] as ReturnType<typeof cellReader>;
    let values = "";
    let statuses = "";
    let times = "";
    for (let e = 0; e < n; e++) {
      const cell = cellAt(e, index);
      const sep = e === 0 ? "" : ",";
      values += `${sep}${cell.value}`;
      statuses += `${sep}${cell.status}`;
      times += `${sep}${cell.time ?? EPOCH}`;
    }
    out.push(`{"values":[${values}],"statuses":[${statuses}],"event_timestamps":[${times}]}`);
  }
  return `{"metadata":{"feature_names":${JSON.stringify([...keys.map((k) => k.joinKey), ...names])}},"results":[${out.join(",")}]}`;
}

/**
 * The stream contract: the same events in give the same window values out, whichever way they
 * arrive — the HTTP endpoint (test/stream-contract.test.ts), the Kafka bridge, the Pulsar bridge.
 * Plain data and a runner-neutral shape, so every transport's suite imports these cases:
 *
 * - register `feature` as `<prefix>_<name>` reading topic `<prefix>_<name>_topic`;
 * - send `events` in the order given (a transport sets the record key to `key`, the record
 *   timestamp to `timestamp`, the payload to `value` as JSON); cases with `redeliver` send every
 *   event a second time with the same id (over HTTP: the same `id`; a bridge: the same offset /
 *   message id), which must change nothing;
 * - then the feature's history (GET /api/v1/features/{name}/values?entity_id=...) must hold exactly
 *   `expected` for each entity: the window value at each boundary where it changed.
 *
 * Event times are fixed in the past (2026-01-01), so every boundary — including those where events
 * leave their windows — is already due when the events arrive.
 */
export interface StreamCaseEvent {
  key: string | null;
  value: unknown;
  /** Record timestamp, ms since the epoch. */
  timestamp: number;
  /** Only on cases with `redeliver`: the id a redelivery repeats. */
  id?: string;
}

export interface StreamCase {
  name: string;
  /** The definition without name and topic (added by the runner). `stream_config: true` nests the fields. */
  feature: Record<string, unknown>;
  nested?: boolean;
  events: StreamCaseEvent[];
  redeliver?: boolean;
  /** Per entity, newest first as the history endpoint lists them. */
  expected: Record<string, { timestamp: string; value: unknown }[]>;
}

const B0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const at = (seconds: number) => B0 + seconds * 1000;
const iso = (seconds: number) => new Date(at(seconds)).toISOString().replace(".000Z", "Z");

export const streamCases: StreamCase[] = [
  {
    name: "sliding_sum",
    feature: { value_type: "float", value_field: "amount", window_size: "2m", slide: "1m", aggregation: "sum", allowed_lateness: "5m" },
    // Out of order: the 10 s event arrives after the 70 s one, within the allowed lateness.
    events: [
      { key: "u1", value: { amount: 3 }, timestamp: at(70) },
      { key: "u1", value: { amount: 5 }, timestamp: at(10) },
      { key: "u1", value: { amount: 2 }, timestamp: at(130) },
      { key: "u2", value: { amount: 1.5 }, timestamp: at(61) },
    ],
    expected: {
      u1: [
        { timestamp: iso(300), value: 0 },
        { timestamp: iso(240), value: 2 },
        { timestamp: iso(180), value: 5 },
        { timestamp: iso(120), value: 8 },
        { timestamp: iso(60), value: 5 },
      ],
      u2: [
        { timestamp: iso(240), value: 0 },
        { timestamp: iso(180), value: 1.5 },
        { timestamp: iso(120), value: 1.5 },
      ],
    },
  },
  {
    name: "tumbling_count_payload_fields",
    feature: { value_type: "int", window_size: "1m", window: "tumbling", aggregation: "count", entity_field: "user.id", timestamp_field: "ts", allowed_lateness: "5m" },
    // The payload's time wins over the record's; the entity comes from the payload, not the key.
    events: [
      { key: null, value: { user: { id: "a" }, ts: iso(5) }, timestamp: at(999) },
      { key: null, value: { user: { id: "a" }, ts: iso(20) }, timestamp: at(999) },
      { key: "ignored", value: { user: { id: "b" }, ts: iso(30) }, timestamp: at(999) },
      { key: null, value: { user: { id: "a" }, ts: iso(65) }, timestamp: at(999) },
    ],
    expected: {
      a: [
        { timestamp: iso(180), value: 0 },
        { timestamp: iso(120), value: 1 },
        { timestamp: iso(60), value: 2 },
      ],
      b: [
        { timestamp: iso(120), value: 0 },
        { timestamp: iso(60), value: 1 },
      ],
    },
  },
  {
    name: "last_action",
    nested: true,
    feature: { value_type: "string", value_field: "action" },
    events: [
      { key: "c1", value: { action: "view" }, timestamp: at(1) },
      { key: "c1", value: { action: "buy" }, timestamp: at(3) },
      { key: "c1", value: { action: "cart" }, timestamp: at(2) },
    ],
    expected: {
      c1: [
        { timestamp: iso(3), value: "buy" },
        { timestamp: iso(2), value: "cart" },
        { timestamp: iso(1), value: "view" },
      ],
    },
  },
  {
    name: "sliding_avg_redelivered",
    feature: { value_type: "float", value_field: "m.v", window_size: "2m", slide: "1m", aggregation: "avg", allowed_lateness: "5m" },
    redeliver: true,
    events: [
      { key: "s", value: { m: { v: 1 } }, timestamp: at(10), id: "avg-1" },
      { key: "s", value: { m: { v: 2 } }, timestamp: at(20), id: "avg-2" },
      { key: "s", value: { m: { v: 6 } }, timestamp: at(70), id: "avg-3" },
    ],
    expected: {
      s: [
        { timestamp: iso(240), value: null },
        { timestamp: iso(180), value: 6 },
        { timestamp: iso(120), value: 3 },
        { timestamp: iso(60), value: 1.5 },
      ],
    },
  },
];

/** The feature definition a runner registers for `c`. */
export function caseFeature(c: StreamCase, prefix: string): Record<string, unknown> {
  const topic = `${prefix}_${c.name}_topic`;
  const name = `${prefix}_${c.name}`;
  const { value_type: valueType, ...fields } = c.feature;
  return c.nested ? { name, value_type: valueType, stream_config: { topic, ...fields } } : { name, value_type: valueType, topic, ...fields };
}

/**
 * D1 schema: the registry (features, connectors), value history, latest value per
 * (feature, entity), materialization runs (with their staged rows and schedules) and API keys. D1 is FStore's source of truth;
 * KV only caches what is derived from these tables.
 *
 * Timestamps of values are integer microseconds since the Unix epoch (Python clients send
 * microseconds), exact from 0001 to 9999: 64-bit integers here, bigint in the Worker (src/time.ts).
 * Bookkeeping times (`created_at`, ...) are milliseconds.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const features = sqliteTable(
  "features",
  {
    // AUTOINCREMENT: a deleted feature's id is never reused, so cached vectors that still
    // mention it can never be mistaken for a new feature of the same name.
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    description: text("description"),
    entityId: text("entity_id").notNull(),
    featureGroup: text("feature_group").notNull(),
    valueType: text("value_type", {
      enum: ["float", "int", "string", "bool", "float_list", "json"],
    }).notNull(),
    ttlSeconds: integer("ttl_seconds"),
    tags: text("tags", { mode: "json" }).$type<Record<string, string>>().notNull().default(sql`'{}'`),
    owner: text("owner"),
    /** push | sql | file | stream — derived from which source fields are set. */
    sourceType: text("source_type", { enum: ["push", "sql", "file", "stream"] }).notNull(),
    /** Source-specific definition fields (query, schedule, path, topic, ...), as registered. */
    source: text("source", { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    // A name is unique within its feature group (Feast views may share names); `group:name` is always unique.
    uniqueIndex("features_group_name_uq").on(t.featureGroup, t.name),
    index("features_name_idx").on(t.name),
    index("features_entity_idx").on(t.entityId, t.name),
    index("features_source_type_idx").on(t.sourceType, t.name),
  ],
);

export const connectors = sqliteTable("connectors", {
  name: text("name").primaryKey(),
  type: text("type").notNull(),
  /** Non-secret configuration (host, port, bucket, ...). */
  config: text("config", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  /** Secret fields, AES-GCM encrypted with FSTORE_SECRET_KEY; never returned by the API. */
  secrets: text("secrets"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Every value ever written. The same (feature, entity, ts) twice is one row. */
export const featureValues = sqliteTable(
  "feature_values",
  {
    featureId: integer("feature_id")
      .notNull()
      .references(() => features.id, { onDelete: "cascade" }),
    entityId: text("entity_id").notNull(),
    ts: integer("ts").notNull(),
    /** JSON text, so a value keeps its type (number, string, bool, list, object, null). */
    value: text("value").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.featureId, t.entityId, t.ts] }),
    index("feature_values_time_idx").on(t.featureId, t.ts),
  ],
);

/** The value with the greatest timestamp per (feature, entity): what online reads serve. */
export const featureLatest = sqliteTable(
  "feature_latest",
  {
    featureId: integer("feature_id")
      .notNull()
      .references(() => features.id, { onDelete: "cascade" }),
    entityId: text("entity_id").notNull(),
    ts: integer("ts").notNull(),
    value: text("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.featureId, t.entityId] })],
);

export const runs = sqliteTable(
  "runs",
  {
    id: text("id").primaryKey(),
    featureId: integer("feature_id")
      .notNull()
      .references(() => features.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["queued", "running", "succeeded", "failed"] }).notNull(),
    trigger: text("trigger", { enum: ["schedule", "manual"] }).notNull(),
    rowsRead: integer("rows_read").notNull().default(0),
    rowsWritten: integer("rows_written").notNull().default(0),
    rowsUnchanged: integer("rows_unchanged").notNull().default(0),
    watermark: text("watermark"),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    // State across invocations (src/runs/lifecycle.ts):
    /** The source reader's position (JSON, source-specific): where the next invocation continues. */
    cursor: text("cursor", { mode: "json" }).$type<unknown>(),
    /** Seq of the next staged row. */
    nextSeq: integer("next_seq").notNull().default(0),
    /** Staged rows with seq >= this are not committed yet. */
    commitSeq: integer("commit_seq").notNull().default(0),
    invocations: integer("invocations").notNull().default(0),
    /** Milliseconds; an invocation works on the run until then (a second delivery of its job waits). */
    busyUntil: integer("busy_until").notNull().default(0),
  },
  (t) => [index("runs_feature_idx").on(t.featureId, t.createdAt), index("runs_created_idx").on(t.createdAt), index("runs_status_idx").on(t.status, t.createdAt)],
);

/**
 * Rows a run has read, waiting to be promoted (staging). Readers never look here: a run's values
 * become visible together when one D1 batch moves them to feature_values and feature_latest
 * (src/ingest/sql.ts); a failed run's rows are deleted. `changed` is set during promotion (0 = the
 * same value at the same timestamp is already in history, so it is not written again).
 */
export const runValues = sqliteTable(
  "run_values",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    entityId: text("entity_id").notNull(),
    ts: integer("ts").notNull(),
    value: text("value").notNull(),
    changed: integer("changed"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

/**
 * Scheduling state of each SQL or file feature: when it is next due, the lease that keeps two runs
 * of it from overlapping (taken with a conditional UPDATE), consecutive failures for backoff, and
 * the watermark: the greatest value timestamp committed (what `:since` binds).
 */
export const featureSchedules = sqliteTable("feature_schedules", {
  featureId: integer("feature_id")
    .primaryKey()
    .references(() => features.id, { onDelete: "cascade" }),
  /** Milliseconds; null = due now. */
  nextRunAt: integer("next_run_at"),
  leaseRunId: text("lease_run_id"),
  /** Milliseconds; the lease is free once this has passed. */
  leaseUntil: integer("lease_until"),
  failures: integer("failures").notNull().default(0),
  watermark: text("watermark"),
  lastRunId: text("last_run_id"),
  updatedAt: integer("updated_at").notNull(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** SHA-256 of the whole key, hex. The key itself is shown once, at creation. */
    hash: text("hash").notNull(),
    scopes: text("scopes", { mode: "json" }).$type<Scope[]>().notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash_uq").on(t.hash)],
);

export type Scope = "read" | "write" | "admin";
export type FeatureRow = typeof features.$inferSelect;
export type ValueType = FeatureRow["valueType"];
export type SourceType = FeatureRow["sourceType"];

/**
 * Files a data-lake feature has ingested, by key, with the ETag of the version ingested: a run
 * skips a file whose ETag is unchanged and picks up new or changed ones.
 */
export const lakeFiles = sqliteTable(
  "lake_files",
  {
    featureId: integer("feature_id")
      .notNull()
      .references(() => features.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    etag: text("etag").notNull(),
    size: integer("size").notNull(),
    rows: integer("rows").notNull(),
    runId: text("run_id"),
    ingestedAt: integer("ingested_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.featureId, t.key] })],
);

/**
 * Per-file results of a data-lake run, in the order the files are read, with the cursor of the
 * file being read (a large file is read across several invocations).
 */
export const runFiles = sqliteTable(
  "run_files",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    key: text("key").notNull(),
    etag: text("etag").notNull(),
    size: integer("size").notNull(),
    status: text("status", { enum: ["pending", "reading", "ingested", "failed"] }).notNull(),
    rowsRead: integer("rows_read").notNull().default(0),
    rowsWritten: integer("rows_written").notNull().default(0),
    rowsUnchanged: integer("rows_unchanged").notNull().default(0),
    cursorRow: integer("cursor_row").notNull().default(0),
    cursorByte: integer("cursor_byte").notNull().default(0),
    /** First run_values seq of this file's staged rows. */
    stageFrom: integer("stage_from"),
    error: text("error"),
    finishedAt: integer("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

/**
 * What the KV online cache holds: one row per vector (feature group, entity) written to KV. KV
 * accepts one write per second per key, so every writer first claims the vector here — a
 * conditional update that D1 serializes — and a write that finds the vector written less than a
 * second ago marks it `pending` instead; a queued refresh writes it once that second has passed.
 * Large writes refresh only the vectors listed here (those a reader has cached). Times are ms.
 */
export const onlineVectors = sqliteTable(
  "online_vectors",
  {
    featureGroup: text("feature_group").notNull(),
    entityId: text("entity_id").notNull(),
    /** When the last claim was taken (the KV write follows it). */
    writtenAt: integer("written_at").notNull(),
    /** 1: a write committed after the last claim is not in KV yet; a queued refresh will write it. */
    pending: integer("pending").notNull().default(0),
    /** Token of the last claim, so the claimant can find what it claimed. */
    claim: text("claim"),
    /** When KV drops the vector (its expirationTtl); null: never. */
    expiresAt: integer("expires_at"),
  },
  (t) => [primaryKey({ columns: [t.featureGroup, t.entityId] }), index("online_vectors_expiry_idx").on(t.expiresAt)],
);

/**
 * Messages that used up their retries on a queue (`fstore-jobs`, `fstore-events`) and were moved
 * to its dead-letter queue: the Worker consumes both dead-letter queues into this table, so
 * `GET /api/v1/dead-letters` shows them and `POST .../replay` sends one back (src/jobs/dead-letters.ts).
 */
export const deadLetters = sqliteTable(
  "dead_letters",
  {
    /** The message's id on the dead-letter queue (a redelivery of the same message is stored once). */
    id: text("id").primaryKey(),
    /** The queue the message failed on. */
    queue: text("queue").notNull(),
    /** The message body as JSON. */
    body: text("body").notNull(),
    /** Deliveries on the dead-letter queue (the original queue's retries are not counted by Queues). */
    attempts: integer("attempts").notNull(),
    /** Milliseconds: when the message was first sent, and when it was stored here. */
    sentAt: integer("sent_at").notNull(),
    receivedAt: integer("received_at").notNull(),
    /** Milliseconds of the last replay, and how many times it was sent back. */
    replayedAt: integer("replayed_at"),
    replays: integer("replays").notNull().default(0),
  },
  (t) => [index("dead_letters_received_idx").on(t.receivedAt, t.id)],
);

/**
 * Window state of stream features (src/streams): one row per feature × entity × tile, a tile being
 * one slide of a sliding window (the whole window of a tumbling one) and holding the mergeable
 * partial aggregates of its events — count, sum, min, max (avg = sum / count). A tile covers event
 * times (tile_end − tile, tile_end], in milliseconds. Kept in D1 (docs/streaming.md says why).
 */
export const streamTiles = sqliteTable(
  "stream_tiles",
  {
    featureId: integer("feature_id")
      .notNull()
      .references(() => features.id, { onDelete: "cascade" }),
    entityId: text("entity_id").notNull(),
    tileEnd: integer("tile_end").notNull(),
    count: integer("count").notNull(),
    sum: real("sum").notNull(),
    min: real("min"),
    max: real("max"),
  },
  (t) => [primaryKey({ columns: [t.featureId, t.entityId, t.tileEnd] }), index("stream_tiles_end_idx").on(t.featureId, t.tileEnd)],
);

/**
 * Event ids already applied, per topic: a redelivered event (a bridge's `kafka/{topic}/{partition}/{offset}`,
 * a producer's own id) is applied once. Written in the same D1 transaction as the tiles and values
 * it changes, so they commit together or not at all; an id written by another consumer since it was
 * read fails that transaction (the primary key). Ms times.
 */
export const streamSeen = sqliteTable(
  "stream_seen",
  {
    topic: text("topic").notNull(),
    eventId: text("event_id").notNull(),
    seenAt: integer("seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.topic, t.eventId] }), index("stream_seen_at_idx").on(t.seenAt)],
);

/** Per stream feature: its watermark (newest event time seen) and counters. Ms times. */
export const streamStats = sqliteTable("stream_stats", {
  featureId: integer("feature_id")
    .primaryKey()
    .references(() => features.id, { onDelete: "cascade" }),
  watermark: integer("watermark"),
  events: integer("events").notNull().default(0),
  lateEvents: integer("late_events").notNull().default(0),
  duplicates: integer("duplicates").notNull().default(0),
  rejected: integer("rejected").notNull().default(0),
  lastEventTime: integer("last_event_time"),
  lastAppliedAt: integer("last_applied_at"),
  /** Start (ms) of the minute `minute_events` counts applied events in; `prev_minute_events` is the minute before. */
  minuteStart: integer("minute_start").notNull().default(0),
  minuteEvents: integer("minute_events").notNull().default(0),
  prevMinuteEvents: integer("prev_minute_events").notNull().default(0),
});

/**
 * The clock of windowed stream features: per (feature, entity), the next time (ms) its window value
 * changes because events leave the window, though no new event arrives. The cron and the events
 * consumer write the values whose time has passed (src/streams/clock.ts).
 */
export const streamClock = sqliteTable(
  "stream_clock",
  {
    featureId: integer("feature_id")
      .notNull()
      .references(() => features.id, { onDelete: "cascade" }),
    entityId: text("entity_id").notNull(),
    nextChangeAt: integer("next_change_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.featureId, t.entityId] }), index("stream_clock_due_idx").on(t.nextChangeAt)],
);

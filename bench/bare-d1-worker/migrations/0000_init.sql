-- The two value tables exactly as FStore's (migrations/0000_init.sql): NOT NULL columns, foreign
-- keys to `features` (D1 enforces them, so every row written is checked against its feature) and
-- the secondary index on (feature_id, ts) — the durable work of a write is the same for both.
-- `features` holds only what the foreign keys need: the one feature, id 1.
CREATE TABLE IF NOT EXISTS features (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL
);
INSERT INTO features (id) VALUES (1);
CREATE TABLE IF NOT EXISTS feature_latest (
  feature_id INTEGER NOT NULL,
  entity_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (feature_id, entity_id),
  FOREIGN KEY (feature_id) REFERENCES features(id) ON UPDATE no action ON DELETE cascade
);
CREATE TABLE IF NOT EXISTS feature_values (
  feature_id INTEGER NOT NULL,
  entity_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (feature_id, entity_id, ts),
  FOREIGN KEY (feature_id) REFERENCES features(id) ON UPDATE no action ON DELETE cascade
);
CREATE INDEX IF NOT EXISTS feature_values_time_idx ON feature_values (feature_id, ts);

-- Only the two value tables, shaped like FStore's (without its foreign keys and secondary index).
CREATE TABLE IF NOT EXISTS feature_values (
  feature_id INTEGER,
  entity_id TEXT,
  ts INTEGER,
  value TEXT,
  PRIMARY KEY (feature_id, entity_id, ts)
);
CREATE TABLE IF NOT EXISTS feature_latest (
  feature_id INTEGER,
  entity_id TEXT,
  ts INTEGER,
  value TEXT,
  PRIMARY KEY (feature_id, entity_id)
);

-- Events as the bare stream Worker stores them: one row per event id (a redelivered id is ignored).
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  key TEXT,
  value TEXT NOT NULL,
  ts INTEGER
);
CREATE TABLE subscription (
  topic TEXT PRIMARY KEY,
  connector TEXT NOT NULL
);

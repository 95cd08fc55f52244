-- Sample tables for the guide's PostgreSQL examples (FStore itself only ever reads them):
--   psql -h localhost -U postgres -d test -f examples/seed/postgres.sql
-- Safe to run again.
CREATE TABLE IF NOT EXISTS orders (
  id integer PRIMARY KEY,
  customer_id integer NOT NULL,
  order_value numeric(10, 2) NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO orders
  SELECT i, i % 10 + 1, (i * 37) % 500 / 4.0 + 5, NOW() - make_interval(days => i % 45)
    FROM generate_series(1, 200) AS i
  ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS purchases (
  id integer PRIMARY KEY,
  customer_id integer NOT NULL,
  amount numeric(10, 2) NOT NULL,
  purchased_at timestamptz NOT NULL
);
INSERT INTO purchases
  SELECT i, i % 10 + 1, (i * 13) % 1000 / 10.0, NOW() - make_interval(hours => i)
    FROM generate_series(1, 100) AS i
  ON CONFLICT (id) DO NOTHING;

-- Sample table for the MySQL examples (FStore itself only ever reads it):
--   mysql -h 127.0.0.1 -u root test < examples/seed/mysql.sql
-- Safe to run again.
CREATE TABLE IF NOT EXISTS orders (
  id INT PRIMARY KEY,
  customer_id INT NOT NULL,
  order_value DECIMAL(10, 2) NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at DATETIME(6) NOT NULL
);
INSERT IGNORE INTO orders
  WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 200)
  SELECT i, i % 10 + 1, (i * 37) % 500 / 4.0 + 5, IF(i % 7 = 0, 'refunded', 'paid'), UTC_TIMESTAMP(6) - INTERVAL (i % 45) DAY
    FROM seq;

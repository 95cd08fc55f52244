/**
 * TypeScript twin of examples/mysql_features.py: the guide's MySQL connector, a SQL feature read
 * through it, and its values pulled now. MariaDB works the same.
 *
 * From the repository root, FStore running (`npm run dev`; no proxy needed for MySQL):
 *
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   mysql -h 127.0.0.1 -u root test < examples/seed/mysql.sql
 *   MYSQL_DATABASE=test MYSQL_USER=root MYSQL_PASSWORD= node examples/mysql_features.ts
 *
 * Without MYSQL_* variables the guide's config is used (localhost:3306, mydb, user/password).
 */
import { FeatureStore } from "fstore";
import { MySQLConnector } from "fstore/connectors";

const mysql_config = {
  host: process.env.MYSQL_HOST ?? "localhost",
  port: Number(process.env.MYSQL_PORT ?? 3306),
  database: process.env.MYSQL_DATABASE ?? "mydb",
  user: process.env.MYSQL_USER ?? "user",
  password: process.env.MYSQL_PASSWORD ?? "password",
};

const mysql_connector = new MySQLConnector(mysql_config);

// Not in the guide's MySQL section, which stops at the connector: a feature read through it.
const store = new FeatureStore();
const feature = await mysql_connector.registerFeature({
  name: "customer_paid_orders",
  description: "Paid orders per customer",
  entity_id: "customer",
  value_type: "int",
  query: "SELECT customer_id, COUNT(*) FROM orders WHERE status = 'paid' GROUP BY customer_id",
  update_frequency: "1h",
});
const run = await store.updateFeatureValues(feature.name);

console.log(`${feature.name}: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written`);
console.log("customer 1:", (await store.getLatestValue(feature.name, "1")).value);

/**
 * TypeScript twin of the guide's "Exemplo PostgreSQL" (examples/postgres_features.py): a
 * PostgreSQL connector, a SQL feature, and its values pulled now.
 *
 * From the repository root, with FStore running (`npm run dev`) and a local PostgreSQL — the guide's
 * config as written reaches it directly over TCP (docs/connectors.md):
 *
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   psql -h localhost -U postgres -d test -f examples/seed/postgres.sql
 *   PGDATABASE=test PGUSER=postgres PGPASSWORD= node examples/postgres_features.ts
 *
 * Without PG* variables the guide's config is used (localhost:5432, mydatabase, myuser/mypassword).
 * Safe to run again: the feature and the connector are reused.
 */
import { FeatureStore } from "fstore";
import { PostgresConnector } from "fstore/connectors";

const store = new FeatureStore();
const connector = new PostgresConnector({
  host: process.env.PGHOST ?? "localhost",
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? "mydatabase",
  user: process.env.PGUSER ?? "myuser",
  password: process.env.PGPASSWORD ?? "mypassword",
});

// Criar e atualizar feature
const feature = await store.createFeature({
  name: "customer_total_purchases",
  query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id",
});
const run = await store.updateFeatureValues(feature.name, connector);

console.log(`${feature.name}: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written, ${run.rows_unchanged} unchanged`);
console.log("customer 1:", (await store.getLatestValue(feature.name, "1")).value);

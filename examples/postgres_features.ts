/**
 * TypeScript twin of the guide's "Exemplo PostgreSQL" (examples/postgres_features.py): a
 * PostgreSQL connector, a SQL feature, and its values pulled now.
 *
 * From the repository root, FStore running (`npm run dev`) and, in another terminal, the WebSocket
 * proxy the Postgres connector needs for any PostgreSQL that is not Neon (`npm run pgproxy`):
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
  // Not in the guide: FStore reaches a PostgreSQL that is not Neon through a WebSocket proxy
  // (`npm run pgproxy` listens on 127.0.0.1:8787; see docs/connectors.md).
  ws_proxy: process.env.FSTORE_PG_WS_PROXY ?? "127.0.0.1:8787/v2",
});

// Criar e atualizar feature
const feature = await store.createFeature({
  name: "customer_total_purchases",
  query: "SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id",
});
const run = await store.updateFeatureValues(feature.name, connector);

console.log(`${feature.name}: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written, ${run.rows_unchanged} unchanged`);
console.log("customer 1:", (await store.getLatestValue(feature.name, "1")).value);

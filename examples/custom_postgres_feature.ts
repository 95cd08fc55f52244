/**
 * TypeScript twin of the guide's "PostgreSQL com Query Customizada"
 * (examples/custom_postgres_feature.py): a feature with a custom CTE query on a daily cron
 * schedule, registered with its connector; then, not in the guide, one run now.
 *
 * From the repository root, with FStore running (`npm run dev`) and a local PostgreSQL — the guide's
 * config as written reaches it directly over TCP (docs/connectors.md):
 *
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   psql -h localhost -U postgres -d test -f examples/seed/postgres.sql
 *   PGDATABASE=test PGUSER=postgres PGPASSWORD= node examples/custom_postgres_feature.ts
 *
 * Without PG* variables the guide's config is used (localhost:5432, mydb, user/pass).
 */
import { FeatureStore } from "fstore";
import { PostgreSQLConnector } from "fstore/connectors";

// 1. Configurar conexão com PostgreSQL
const postgres_config = {
  host: process.env.PGHOST ?? "localhost", // ou seu host
  port: Number(process.env.PGPORT ?? 5432), // sua porta
  database: process.env.PGDATABASE ?? "mydb", // seu database
  user: process.env.PGUSER ?? "user", // seu usuário
  password: process.env.PGPASSWORD ?? "pass", // sua senha
};

// 2. Inicializar o Feature Store e o conector
const store = new FeatureStore();
const pg_connector = new PostgreSQLConnector(postgres_config);

// 3. Definir a feature com sua query customizada
const feature_definition = {
  name: "customer_purchase_frequency",
  description: "Frequência de compras do cliente nos últimos 30 dias",
  entity_id: "customer",
  feature_group: "customer_metrics",
  query: `
        WITH customer_purchases AS (
            SELECT 
                customer_id,
                COUNT(*) as purchase_count,
                COUNT(*) / 30.0 as purchase_frequency
            FROM orders
            WHERE created_at >= NOW() - INTERVAL '30 days'
            GROUP BY customer_id
        )
        SELECT 
            customer_id as entity_id,
            purchase_frequency as value,
            NOW() as timestamp
        FROM customer_purchases
    `,
  schedule: "0 0 * * *", // Executa diariamente à meia-noite
};

// 4. Registrar a feature
await store.registerFeature(feature_definition, { connector: pg_connector });

// Not in the guide: run it now rather than at midnight, and read a value back.
const run = await store.updateFeatureValues("customer_purchase_frequency");
console.log(`run ${run.id}: ${run.status}, ${run.rows_read} customers, watermark ${run.watermark}`);
console.log("customer 3:", (await store.getLatestValue("customer_purchase_frequency", "3")).value);

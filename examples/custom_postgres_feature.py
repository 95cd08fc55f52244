"""
The guide's "PostgreSQL com Query Customizada" (examples/custom_postgres_feature.py): a feature
with a custom CTE query on a daily cron schedule, registered with its connector; then, not in
the guide, one run now instead of waiting for midnight.

From the repository root, with FStore running (`npm run dev`) and a local PostgreSQL — the guide's
config as written reaches it directly over TCP (docs/connectors.md):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    psql -h localhost -U postgres -d test -f examples/seed/postgres.sql
    PGDATABASE=test PGUSER=postgres PGPASSWORD= PYTHONPATH=clients/python python3 examples/custom_postgres_feature.py

Without PG* variables the guide's config is used (localhost:5432, mydb, user/pass).
"""
import os

from fstore.connectors import PostgreSQLConnector
from fstore import FeatureStore

# 1. Configurar conexão com PostgreSQL
postgres_config = {
    "host": os.environ.get("PGHOST", "localhost"),      # ou seu host
    "port": int(os.environ.get("PGPORT", "5432")),      # sua porta
    "database": os.environ.get("PGDATABASE", "mydb"),   # seu database
    "user": os.environ.get("PGUSER", "user"),           # seu usuário
    "password": os.environ.get("PGPASSWORD", "pass"),   # sua senha
}

# 2. Inicializar o Feature Store e o conector
store = FeatureStore()
pg_connector = PostgreSQLConnector(postgres_config)

# 3. Definir a feature com sua query customizada
feature_definition = {
    "name": "customer_purchase_frequency",
    "description": "Frequência de compras do cliente nos últimos 30 dias",
    "entity_id": "customer",
    "feature_group": "customer_metrics",
    "query": """
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
    """,
    "schedule": "0 0 * * *"  # Executa diariamente à meia-noite
}

# 4. Registrar a feature
store.register_feature(
    feature_definition,
    connector=pg_connector
)

# Not in the guide: run it now rather than at midnight, and read a value back.
run = store.update_feature_values("customer_purchase_frequency")
print(f"run {run.id}: {run.status}, {run.rows_read} customers, watermark {run.watermark}")
print("customer 3:", store.get_latest_value("customer_purchase_frequency", "3")["value"])

"""
The guide's "Exemplo PostgreSQL" (examples/postgres_features.py): a PostgreSQL connector, a SQL
feature, and its values pulled now.

From the repository root, with FStore running (`npm run dev`) and a local PostgreSQL — the guide's
config as written reaches it directly over TCP (docs/connectors.md):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    psql -h localhost -U postgres -d test -f examples/seed/postgres.sql
    PGDATABASE=test PGUSER=postgres PGPASSWORD= PYTHONPATH=clients/python python3 examples/postgres_features.py

Without PG* variables the guide's config is used (localhost:5432, mydatabase, myuser/mypassword).
Safe to run again: the feature and the connector are reused.
"""
import os

from fstore import FeatureStore
from fstore.connectors import PostgresConnector

store = FeatureStore()
connector = PostgresConnector({
    "host": os.environ.get("PGHOST", "localhost"),
    "port": int(os.environ.get("PGPORT", "5432")),
    "database": os.environ.get("PGDATABASE", "mydatabase"),
    "user": os.environ.get("PGUSER", "myuser"),
    "password": os.environ.get("PGPASSWORD", "mypassword"),
})

# Criar e atualizar feature
feature = store.create_feature(
    name="customer_total_purchases",
    query="SELECT customer_id, SUM(amount) FROM purchases GROUP BY customer_id"
)
run = store.update_feature_values(feature.name, connector)

print(f"{feature.name}: run {run.status}, {run.rows_read} rows read, {run.rows_written} written, {run.rows_unchanged} unchanged")
print("customer 1:", store.get_latest_value(feature.name, "1")["value"])

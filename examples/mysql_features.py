"""
The guide's MySQL section, carried through to values (examples/mysql_features.py): a MySQL
connector, a SQL feature read through it, and its values pulled now. MariaDB works the same.

From the repository root, FStore running (`npm run dev`; no proxy needed for MySQL):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    mysql -h 127.0.0.1 -u root test < examples/seed/mysql.sql
    MYSQL_DATABASE=test MYSQL_USER=root MYSQL_PASSWORD= PYTHONPATH=clients/python python3 examples/mysql_features.py

Without MYSQL_* variables the guide's config is used (localhost:3306, mydb, user/password).
"""
import os

from fstore import FeatureStore
from fstore.connectors import MySQLConnector

mysql_config = {
    "host": os.environ.get("MYSQL_HOST", "localhost"),
    "port": int(os.environ.get("MYSQL_PORT", "3306")),
    "database": os.environ.get("MYSQL_DATABASE", "mydb"),
    "user": os.environ.get("MYSQL_USER", "user"),
    "password": os.environ.get("MYSQL_PASSWORD", "password"),
}

mysql_connector = MySQLConnector(mysql_config)

# Not in the guide's MySQL section, which stops at the connector: a feature read through it.
store = FeatureStore()
feature = mysql_connector.register_feature({
    "name": "customer_paid_orders",
    "description": "Paid orders per customer",
    "entity_id": "customer",
    "value_type": "int",
    "query": "SELECT customer_id, COUNT(*) FROM orders WHERE status = 'paid' GROUP BY customer_id",
    "update_frequency": "1h",
})
run = store.update_feature_values(feature.name)

print(f"{feature.name}: run {run.status}, {run.rows_read} rows read, {run.rows_written} written")
print("customer 1:", store.get_latest_value(feature.name, "1")["value"])

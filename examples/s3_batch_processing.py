"""
The guide's "Exemplo S3 Batch" (examples/s3_batch_processing.py) and its Amazon S3 section: an S3
connector, a Parquet feature registered through it, and a batch feature whose `batch_config`
names no connector — the script's own S3 connector is used.

From the repository root, FStore running (`npm run dev`) and a local S3 in another terminal
(`npm run s3local`: s3rver on 127.0.0.1:4568 with the guide's bucket and sample files; it
prints the variables below):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    export AWS_ENDPOINT_URL=http://127.0.0.1:4568 AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
    PYTHONPATH=clients/python python3 examples/s3_batch_processing.py

Without those variables the guide's config is used (Amazon S3, us-east-1, YOUR_KEY).
"""
import os

from fstore import FeatureStore
from fstore.connectors import S3Connector

s3_config = {
    "bucket": os.environ.get("S3_BUCKET", "my-feature-store"),
    "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "YOUR_KEY"),
    "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "YOUR_SECRET"),
    "region": os.environ.get("AWS_REGION", "us-east-1"),
}
if os.environ.get("AWS_ENDPOINT_URL"):
    # Not in the guide: an S3-compatible server (s3rver, MinIO, R2) instead of Amazon S3.
    s3_config["endpoint"] = os.environ["AWS_ENDPOINT_URL"]

# Amazon S3: Inicializar conector S3 e registrar feature usando Parquet
s3_connector = S3Connector(s3_config)
feature_def = {
    "name": "user_behavior_features",
    "path": "features/user_behavior/*.parquet",
    "format": "parquet",
    "update_frequency": "1d"
}
s3_connector.register_feature(feature_def)

# Exemplo S3 Batch
store = FeatureStore()
connector = S3Connector(s3_config)

# Configurar processamento em batch
feature = store.create_feature(
    name="customer_lifetime_value",
    batch_config={
        "path": "customer_transactions/*.parquet",
        "schedule": "0 0 * * *"  # Diariamente
    }
)
run = store.run_batch_processing(feature.name)

print(f"{feature.name}: run {run.status}, {run.rows_read} rows read, {run.rows_written} written")
print("customer_3:", store.get_latest_value(feature.name, "customer_3")["value"])
behavior = store.run_batch_processing("user_behavior_features")
print(f"user_behavior_features: run {behavior.status}, {behavior.rows_read} rows read")

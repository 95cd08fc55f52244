"""
The guide's Azure Data Lake section, carried through to values (examples/adls_batch_processing.py):
an Azure Data Lake connector with a SAS token, a CSV feature registered through it, and one run now.

From the repository root, FStore running (`npm run dev`) and a local Azure in another terminal
(`npm run azurite`: Azurite on 127.0.0.1:10000 with the container `mycontainer` and a sample
file; it prints the variables below, with the SAS token):

    export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
    export AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_BLOB_ENDPOINT=http://127.0.0.1:10000/devstoreaccount1
    export AZURE_SAS_TOKEN='<printed by npm run azurite>'
    PYTHONPATH=clients/python python3 examples/adls_batch_processing.py

Without those variables the guide's config is used (mystorageaccount on Azure, YOUR_SAS_TOKEN).
"""
import os

from fstore import FeatureStore
from fstore.connectors import AzureDataLakeConnector

adls_config = {
    "account_name": os.environ.get("AZURE_STORAGE_ACCOUNT", "mystorageaccount"),
    "container": os.environ.get("AZURE_CONTAINER", "mycontainer"),
    "credential": os.environ.get("AZURE_SAS_TOKEN", "YOUR_SAS_TOKEN"),
}
if os.environ.get("AZURE_BLOB_ENDPOINT"):
    # Not in the guide: another Blob endpoint (Azurite, a private endpoint) than <account>.blob.core.windows.net.
    adls_config["endpoint"] = os.environ["AZURE_BLOB_ENDPOINT"]

adls_connector = AzureDataLakeConnector(adls_config)

# Not in the guide's Azure section, which stops at the connector: a CSV feature read through it.
store = FeatureStore()
feature = adls_connector.register_feature({
    "name": "customer_avg_session_minutes",
    "entity_id": "customer",
    "path": "sessions/*.csv",
    "format": "csv",
    "update_frequency": "1d",
})
run = store.run_batch_processing(feature.name)

print(f"{feature.name}: run {run.status}, {run.rows_read} rows read, {run.rows_written} written")
print("customer_2:", store.get_latest_value(feature.name, "customer_2")["value"])

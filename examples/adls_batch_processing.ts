/**
 * TypeScript twin of examples/adls_batch_processing.py: the guide's Azure Data Lake connector
 * with a SAS token, a CSV feature registered through it, and one run now.
 *
 * From the repository root, FStore running (`npm run dev`) and a local Azure in another terminal
 * (`npm run azurite`: Azurite on 127.0.0.1:10000 with the container `mycontainer` and a sample
 * file; it prints the variables below, with the SAS token):
 *
 *   export FSTORE_KEY=$(grep '^FSTORE_ADMIN_KEY=' .dev.vars | cut -d= -f2-)
 *   export AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_BLOB_ENDPOINT=http://127.0.0.1:10000/devstoreaccount1
 *   export AZURE_SAS_TOKEN='<printed by npm run azurite>'
 *   node examples/adls_batch_processing.ts
 *
 * Without those variables the guide's config is used (mystorageaccount on Azure, YOUR_SAS_TOKEN).
 */
import { FeatureStore } from "fstore";
import { AzureDataLakeConnector } from "fstore/connectors";

const adls_config = {
  account_name: process.env.AZURE_STORAGE_ACCOUNT ?? "mystorageaccount",
  container: process.env.AZURE_CONTAINER ?? "mycontainer",
  credential: process.env.AZURE_SAS_TOKEN ?? "YOUR_SAS_TOKEN",
  // Not in the guide: another Blob endpoint (Azurite, a private endpoint) than <account>.blob.core.windows.net.
  ...(process.env.AZURE_BLOB_ENDPOINT ? { endpoint: process.env.AZURE_BLOB_ENDPOINT } : {}),
};

const adls_connector = new AzureDataLakeConnector(adls_config);

// Not in the guide's Azure section, which stops at the connector: a CSV feature read through it.
const store = new FeatureStore();
const feature = await adls_connector.registerFeature({
  name: "customer_avg_session_minutes",
  entity_id: "customer",
  path: "sessions/*.csv",
  format: "csv",
  update_frequency: "1d",
});
const run = await store.runBatchProcessing(feature.name);

console.log(`${feature.name}: run ${run.status}, ${run.rows_read} rows read, ${run.rows_written} written`);
console.log("customer_2:", (await store.getLatestValue(feature.name, "customer_2")).value);

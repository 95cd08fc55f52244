#!/usr/bin/env node
/**
 * `npm run azurite`: a local Azure Blob / Data Lake server (Azurite) on http://127.0.0.1:10000
 * (PORT overrides) with the guide's container `mycontainer` and the sample file the Azure example
 * reads. Prints the endpoint and a SAS token (the guide's `credential`); data lives in memory and
 * is gone when it stops (Ctrl-C).
 */
import { AZURITE_ACCOUNT, startAzurite } from "./lake-servers.mjs";
import { GUIDE_CONTAINER, seedGuideAzure } from "./lib/guide-samples.mjs";

const port = Number(process.env.PORT ?? 10000);
const server = await startAzurite({ port }).catch((err) => {
  console.error(`azurite: could not start Azurite on 127.0.0.1:${port}: ${err.message} (PORT=... picks another port)`);
  process.exit(1);
});
const sas = await seedGuideAzure(server.endpoint);
console.log(`Azurite listening on ${server.endpoint}, container ${GUIDE_CONTAINER} with sessions/2024-01-01.csv

For the examples (examples/adls_batch_processing.{py,ts}):
  export AZURE_STORAGE_ACCOUNT=${AZURITE_ACCOUNT} AZURE_BLOB_ENDPOINT=${server.endpoint}
  export AZURE_SAS_TOKEN='${sas}'

Connector config: {"account_name": "${AZURITE_ACCOUNT}", "container": "${GUIDE_CONTAINER}", "credential": "<the SAS token above>", "endpoint": "${server.endpoint}"}
Ctrl-C stops it.`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}

/**
 * vitest globalSetup of the end-to-end project (Node side): the data-lake servers the guide's
 * examples read — s3rver with the bucket `my-feature-store` and Azurite with the container
 * `mycontainer`, both holding scripts/lib/guide-samples.mjs's files (the same `npm run s3local`
 * and `npm run azurite` serve). The SQL sources come from test/setup/sql-services.ts.
 */
import type { TestProject } from "vitest/node";
import { GUIDE_BUCKET, seedGuideAzure, seedGuideS3 } from "../../../scripts/lib/guide-samples.mjs";
import { startAzurite, startS3rver } from "../../../scripts/lake-servers.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    guideS3Endpoint: string;
    guideAzureEndpoint: string;
    guideAzureSas: string;
  }
}

export default async function setup(project: TestProject) {
  const s3 = await startS3rver({ buckets: [GUIDE_BUCKET] });
  const azure = await startAzurite().catch(async (err) => {
    await s3.close();
    throw err;
  });
  const closeAll = async () => {
    await Promise.allSettled([s3.close(), azure.close()]);
  };
  try {
    await seedGuideS3(s3.endpoint);
    project.provide("guideAzureSas", await seedGuideAzure(azure.endpoint));
  } catch (err) {
    await closeAll();
    throw err;
  }
  project.provide("guideS3Endpoint", s3.endpoint);
  project.provide("guideAzureEndpoint", azure.endpoint);
  return closeAll;
}

/**
 * vitest globalSetup of the end-to-end project: librdkafka's mock Kafka cluster (3 brokers, hosted
 * by Debian's kcat; scripts/lib/kafka-mock.mjs) for the stream bridge tests. Tests get its
 * bootstrap servers with `inject("kafkaBrokers")`. A missing kcat fails the run (scripts/services.sh
 * installs it; test/setup/services.ts runs that first as root) — the stream tests never skip.
 */
import type { TestProject } from "vitest/node";
import { startKafkaMock } from "../../../scripts/lib/kafka-mock.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

export default async function setup(project: TestProject) {
  const mock = await startKafkaMock({ brokers: 3 });
  project.provide("kafkaBrokers", mock.brokers);
  return () => mock.stop();
}

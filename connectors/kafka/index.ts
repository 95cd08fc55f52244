/**
 * Kafka, kind `stream`. Records reach FStore through a bridge (a Node process with kafkajs, files
 * beside this one) that consumes the topics of the stream features and posts them to
 * `POST /api/v1/streams/{topic}/events`, committing offsets only after the Worker's 202. This file
 * is what the Worker needs: the config schema (as the guide writes it, plus SASL/TLS) and a
 * connection test. It stays Worker-safe: no Node-only imports here.
 */
import { z } from "zod";
import { testFailure } from "../errors";
import { probeTcp, splitHostPort } from "../tcp-probe";
import { secret, type Endpoint, type StreamConnector, type TestResult } from "../types";

const BootstrapServers = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => s.split(",").every((part) => splitHostPort(part) !== null), {
    message: "must be comma-separated host:port pairs, e.g. 'localhost:9092' or 'b1:9092,b2:9092'",
  });

export const KafkaConfig = z
  .object({
    bootstrap_servers: BootstrapServers,
    group_id: z.string().min(1).max(255),
    auto_offset_reset: z.enum(["earliest", "latest"]).default("latest"),
    client_id: z.string().min(1).max(255).optional(),
    security_protocol: z.enum(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]).default("PLAINTEXT"),
    sasl_mechanism: z.enum(["plain", "scram-sha-256", "scram-sha-512"]).optional(),
    sasl_username: z.string().min(1).max(1024).optional(),
    sasl_password: secret(z.string().min(1).max(1024).optional()),
    /** Seconds the connection test waits for each broker. */
    connect_timeout: z.number().positive().max(300).default(10),
  })
  .strict()
  .superRefine((c, ctx) => {
    const sasl = c.security_protocol.startsWith("SASL_");
    if (sasl) {
      for (const field of ["sasl_mechanism", "sasl_username", "sasl_password"] as const) {
        if (c[field] === undefined) ctx.addIssue({ code: "custom", path: [field], message: `is required with security_protocol ${c.security_protocol}` });
      }
    } else if (c.sasl_mechanism !== undefined || c.sasl_username !== undefined || c.sasl_password !== undefined) {
      ctx.addIssue({ code: "custom", path: ["security_protocol"], message: "SASL fields are set: use SASL_PLAINTEXT or SASL_SSL" });
    }
  });
export type KafkaConfig = z.infer<typeof KafkaConfig>;

const brokersOf = (config: KafkaConfig) => config.bootstrap_servers.split(",").map((s) => splitHostPort(s) as { host: string; port: number });

/**
 * Opens a TCP connection to every bootstrap server (the Worker cannot speak Kafka's protocol, so
 * authentication and topics are the bridge's to prove).
 */
async function test(config: KafkaConfig): Promise<TestResult> {
  const started = Date.now();
  const brokers = brokersOf(config);
  try {
    for (const { host, port } of brokers) await probeTcp(host, port, config.connect_timeout * 1000);
  } catch (err) {
    return testFailure(err, config.sasl_password ? [config.sasl_password] : []);
  }
  const list = brokers.map((b) => `${b.host}:${b.port}`).join(", ");
  return {
    ok: true,
    message: `TCP connection opened to each bootstrap server (${list}); no Kafka request was made from the Worker, so ${config.security_protocol} authentication and the topics are checked by the bridge when it subscribes`,
    latency_ms: Date.now() - started,
  };
}

export const kafkaConnector: StreamConnector<typeof KafkaConfig> = {
  type: "kafka",
  kind: "stream",
  configSchema: KafkaConfig,
  endpoints: (config): Endpoint[] => brokersOf(config).map((b) => ({ field: "bootstrap_servers", host: b.host })),
  test,
};

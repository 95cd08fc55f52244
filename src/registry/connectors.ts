/**
 * Connectors in D1: the non-secret config as JSON, the secret fields (those marked with
 * `secret()` in the connector's schema) AES-GCM encrypted. Secrets never leave through the API.
 */
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { assertEgressAllowed, parseEgressPolicy, staticRefusal, type EgressPolicy } from "../../connectors/egress";
import { connectorFor } from "../../connectors/registry";
import { secretFieldNames, SourceError, type AnyConnector, type Endpoint, type TestResult } from "../../connectors/types";
import { connectors } from "../db/schema";
import type { Bindings } from "../env";
import { ApiError, describeIssues } from "../errors";
import { decryptSecrets, encryptSecrets } from "../secrets";

type ConnectorRow = typeof connectors.$inferSelect;

/** The API shape: config without secrets, plus the names of the (encrypted, hidden) secret fields. */
export function connectorToJson(row: ConnectorRow) {
  const impl = connectorFor(row.type);
  return {
    name: row.name,
    type: row.type,
    config: row.config,
    secret_fields: impl ? secretFieldNames(impl.configSchema) : [],
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
  };
}

function implOf(type: string): AnyConnector {
  const impl = connectorFor(type);
  if (!impl) throw new ApiError("VALIDATION_FAILED", `unknown connector type '${type}'`);
  return impl;
}

/** Validates `config` against the type's schema and splits off its secrets. */
function splitConfig(impl: AnyConnector, rawConfig: Record<string, unknown>) {
  const parsed = impl.configSchema.safeParse(rawConfig);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error).map((i) => ({ ...i, path: i.path ? `config.${i.path}` : "config" }));
    throw new ApiError("VALIDATION_FAILED", `Invalid ${impl.type} config: ${issues[0]?.path}: ${issues[0]?.message}`, issues);
  }
  const secretNames = secretFieldNames(impl.configSchema);
  const config: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.data as Record<string, unknown>)) {
    if (secretNames.includes(k)) secrets[k] = String(v ?? "");
    else config[k] = v;
  }
  return { config, secrets, parsed: parsed.data };
}

/** The deployment's egress policy (connectors/egress.ts), from its Worker vars. */
export const egressPolicyOf = (env: Bindings): EgressPolicy => parseEgressPolicy(env.FSTORE_EGRESS_ALLOW, env.FSTORE_DNS_RESOLVER);

/** The hosts a parsed config reaches; a config whose hosts cannot even be worked out yields one invalid endpoint. */
function endpointsOf(impl: AnyConnector, parsed: unknown): Endpoint[] {
  try {
    return (impl.endpoints as (c: unknown) => Endpoint[])(parsed);
  } catch {
    return [{ field: "config", host: "" }];
  }
}

export async function createConnector(env: Bindings, input: { name: string; type: string; config: Record<string, unknown> }) {
  const impl = implOf(input.type);
  const { config, secrets, parsed } = splitConfig(impl, input.config);
  withHyperdrive(env, config); // a binding that does not exist is a 400 now, not a failed run later
  // Addresses the policy refuses whatever they resolve to are a 400 now; host names are resolved and checked on every connect.
  const policy = egressPolicyOf(env);
  const refused = endpointsOf(impl, parsed).flatMap((e) => {
    const problem = staticRefusal(policy, e);
    return problem ? [{ path: `config.${e.field}`, message: problem }] : [];
  });
  if (refused.length > 0) throw new ApiError("VALIDATION_FAILED", `Invalid ${impl.type} config: ${refused[0]?.message}`, refused);
  // Encrypt before touching D1: without a secret key nothing is stored.
  const sealed = await encryptSecrets(env, input.name, secrets);
  const now = Date.now();
  const [row] = await drizzle(env.DB)
    .insert(connectors)
    .values({ name: input.name, type: input.type, config, secrets: sealed, createdAt: now, updatedAt: now })
    .onConflictDoNothing({ target: connectors.name })
    .returning();
  if (!row) throw new ApiError("CONFLICT", `connector '${input.name}' already exists`);
  return row;
}

export async function getConnector(db: D1Database, name: string): Promise<ConnectorRow> {
  const row = await drizzle(db).select().from(connectors).where(eq(connectors.name, name)).get();
  if (!row) throw new ApiError("CONNECTOR_NOT_FOUND", `connector '${name}' not found`);
  return row;
}

export async function listConnectors(db: D1Database): Promise<ConnectorRow[]> {
  return drizzle(db).select().from(connectors).orderBy(asc(connectors.name)).all();
}

/** Refuses (409) while features still name the connector. */
export async function deleteConnector(db: D1Database, name: string): Promise<void> {
  await getConnector(db, name);
  const users = await db
    .prepare("SELECT name FROM features WHERE json_extract(source, '$.connector') = ?1 ORDER BY name LIMIT 20")
    .bind(name)
    .all<{ name: string }>();
  if (users.results.length > 0) {
    throw new ApiError("CONFLICT", `connector '${name}' is used by features: ${users.results.map((r) => r.name).join(", ")}`, {
      features: users.results.map((r) => r.name),
    });
  }
  await drizzle(db).delete(connectors).where(eq(connectors.name, name));
}

/**
 * A Postgres config naming a Hyperdrive binding (`hyperdrive`) gets its address and credentials
 * from that binding: Hyperdrive (or, under `wrangler dev`, its localConnectionString) is where the
 * Worker connects, over TCP, without TLS (Hyperdrive holds the TLS connection to the database).
 */
function withHyperdrive(env: Bindings, config: Record<string, unknown>): Record<string, unknown> {
  const name = config.hyperdrive;
  if (typeof name !== "string") return config;
  const binding = (env as unknown as Record<string, Partial<Hyperdrive> | undefined>)[name];
  if (!binding || typeof binding.connectionString !== "string") {
    throw new ApiError(
      "VALIDATION_FAILED",
      `the Worker has no Hyperdrive binding '${name}': add a [[hyperdrive]] entry with binding = "${name}" to wrangler.toml (docs/connectors.md)`,
      [{ path: "config.hyperdrive", message: "no such Hyperdrive binding" }],
    );
  }
  return { ...config, host: binding.host, port: binding.port, user: binding.user, password: binding.password, database: binding.database, transport: "tcp", ssl: false };
}

/**
 * The connector's implementation and its full config (secrets decrypted, bindings resolved), for a
 * test or a run — only once the egress policy allows every host it reaches, resolved now (throws a
 * SourceError `egress` or `dns` otherwise). Every connection goes through here.
 */
export async function resolveConnector(env: Bindings, name: string): Promise<{ impl: AnyConnector; config: Record<string, unknown> }> {
  const row = await getConnector(env.DB, name);
  const impl = implOf(row.type);
  const secrets = row.secrets ? await decryptSecrets(env, row.name, row.secrets) : {};
  const config = withHyperdrive(env, { ...row.config, ...secrets });
  const parsed = impl.configSchema.safeParse(config);
  if (parsed.success) await assertEgressAllowed(egressPolicyOf(env), endpointsOf(impl, parsed.data));
  return { impl, config };
}

/** Connects with connector `name` and says what failed; a refusal of the egress policy is a failed test, not an error. */
export async function testConnector(env: Bindings, name: string): Promise<TestResult> {
  let resolved: Awaited<ReturnType<typeof resolveConnector>>;
  try {
    resolved = await resolveConnector(env, name);
  } catch (err) {
    if (err instanceof SourceError) return { ok: false, kind: err.kind, message: err.message };
    throw err;
  }
  const parsed = resolved.impl.configSchema.safeParse(resolved.config);
  if (!parsed.success) return { ok: false, kind: "unknown", message: `the stored config is not valid for a ${resolved.impl.type} connector: ${describeIssues(parsed.error)[0]?.message}` };
  return (resolved.impl.test as (c: unknown) => Promise<TestResult>)(parsed.data);
}

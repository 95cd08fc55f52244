/**
 * Connector routes: `/api/v1/connectors` create (admin), list and get (read; secrets never shown),
 * delete (admin), and `/connectors/{name}/test` (admin), which connects and says what failed.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { connectorTypeNames } from "../../connectors/registry";
import { requireScope } from "../auth";
import type { AppEnv } from "../env";
import { connectorToJson, createConnector, deleteConnector, getConnector, listConnectors, testConnector } from "../registry/connectors";
import { authErrors, errors, jsonBody, jsonResponse, Name } from "../schemas/common";
import { errorHook } from "../validation";

const tags = ["connectors"];
const security = [{ bearerAuth: [] }];

const ConnectorCreate = z
  .object({
    name: Name.openapi({ example: "orders_db" }),
    type: z.enum(connectorTypeNames).openapi({ description: "postgres (postgresql) or mysql (mariadb)", example: "postgres" }),
    config: z.record(z.string(), z.unknown()).openapi({
      description: "As in the guide: host, port, database, user, password; plus ssl, connect_timeout and, for Postgres, ws_proxy",
      example: { host: "localhost", port: 5432, database: "mydb", user: "user", password: "password", ws_proxy: "127.0.0.1:8787/v2" },
    }),
  })
  .strict()
  .openapi("ConnectorCreate");

const ConnectorInfo = z
  .object({
    name: z.string(),
    type: z.string(),
    config: z.record(z.string(), z.unknown()).openapi({ description: "The configuration without its secrets" }),
    secret_fields: z.array(z.string()).openapi({ description: "Fields stored encrypted and never returned", example: ["password"] }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Connector");

const TestResult = z
  .object({
    ok: z.boolean(),
    kind: z.enum(["dns", "refused", "auth", "database", "timeout", "query", "read_only", "connection_lost", "tls", "egress", "unknown"]).optional(),
    message: z.string(),
    server: z.string().optional(),
    latency_ms: z.number().optional().openapi({ description: "Only when the test succeeded" }),
  })
  .openapi("ConnectorTestResult");

const NameParam = z.object({ name: Name.openapi({ param: { name: "name", in: "path" }, example: "orders_db" }) });

export const connectorRoutes = new OpenAPIHono<AppEnv>({ defaultHook: errorHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/connectors",
      tags,
      security,
      summary: "Create a connector (admin); secrets are encrypted at rest",
      middleware: [requireScope("admin")] as const,
      request: { body: jsonBody(ConnectorCreate) },
      responses: { 201: jsonResponse(ConnectorInfo, "Created"), 400: errors[400], 409: errors[409], ...authErrors },
    }),
    async (c) => c.json(connectorToJson(await createConnector(c.env, c.req.valid("json"))), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/connectors",
      tags,
      security,
      summary: "List connectors (secrets are never shown)",
      middleware: [requireScope("read")] as const,
      responses: { 200: jsonResponse(z.object({ connectors: z.array(ConnectorInfo) }), "All connectors"), ...authErrors },
    }),
    async (c) => c.json({ connectors: (await listConnectors(c.env.DB)).map(connectorToJson) }, 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/connectors/{name}",
      tags,
      security,
      summary: "Get a connector (secrets are never shown)",
      middleware: [requireScope("read")] as const,
      request: { params: NameParam },
      responses: { 200: jsonResponse(ConnectorInfo, "The connector"), 404: errors[404], ...authErrors },
    }),
    async (c) => c.json(connectorToJson(await getConnector(c.env.DB, c.req.valid("param").name)), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/connectors/{name}",
      tags,
      security,
      summary: "Delete a connector (admin); refused while features use it",
      middleware: [requireScope("admin")] as const,
      request: { params: NameParam },
      responses: { 204: { description: "Deleted" }, 404: errors[404], 409: errors[409], ...authErrors },
    }),
    async (c) => {
      await deleteConnector(c.env.DB, c.req.valid("param").name);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/connectors/{name}/test",
      tags,
      security,
      summary: "Connect to the source and say what failed: dns, refused, auth, database, timeout (admin)",
      middleware: [requireScope("admin")] as const,
      request: { params: NameParam },
      responses: { 200: jsonResponse(TestResult, "The outcome; ok=false with kind and message on failure"), 404: errors[404], ...authErrors },
    }),
    async (c) => c.json(await testConnector(c.env, c.req.valid("param").name), 200),
  );

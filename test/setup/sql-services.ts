/**
 * vitest globalSetup (Node side): starts the pgproxy in front of the local PostgreSQL and seeds
 * realistic `orders`/`purchases` tables in a dedicated database of the real PostgreSQL and
 * MariaDB the connector tests talk to. It also starts a "black hole" TCP server that accepts
 * connections and never answers, for timeout tests. A missing server fails the whole run:
 * these tests never skip (run `bash scripts/services.sh` first).
 */
import { createServer, type Socket } from "node:net";
import type { TestProject } from "vitest/node";
import { startPgProxy } from "../../scripts/pgproxy.mjs";
import { seedMysql, seedPostgres, SQL_TEST_DATABASE } from "./sql-seed";

declare module "vitest" {
  export interface ProvidedContext {
    pgProxy: string;
    sqlDatabase: string;
    blackholePort: number;
  }
}

function startBlackhole(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    }),
  );
}

export default async function setup(project: TestProject) {
  const blackhole = await startBlackhole();
  // Allowed targets: the real server, a closed port (refused), an unresolvable name (DNS) and the black hole (timeout).
  const allow = ["127.0.0.1:5432", "localhost:5432", "127.0.0.1:1", "no-such-host.invalid:5432", `127.0.0.1:${blackhole.port}`].join(",");
  const proxy = await startPgProxy({ port: 0, allow });
  const pgProxy = `127.0.0.1:${proxy.port}/v2`;
  try {
    await seedPostgres(pgProxy);
    await seedMysql();
  } catch (err) {
    await proxy.close();
    await blackhole.close();
    throw err;
  }
  project.provide("pgProxy", pgProxy);
  project.provide("sqlDatabase", SQL_TEST_DATABASE);
  project.provide("blackholePort", blackhole.port);
  return async () => {
    await proxy.close();
    await blackhole.close();
  };
}

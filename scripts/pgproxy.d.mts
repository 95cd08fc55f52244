/** Types of scripts/pgproxy.mjs for the TypeScript callers (test setup, benchmarks). */
export declare class FrontendTracker {
  push(chunk: Uint8Array): boolean;
  serverAnswered(firstByte: number): void;
}
export interface PgProxy {
  port: number;
  openConnections(): number;
  close(): Promise<void>;
}
export declare function startPgProxy(options?: { host?: string; port?: number; allow?: string; log?: (line: string) => void }): Promise<PgProxy>;

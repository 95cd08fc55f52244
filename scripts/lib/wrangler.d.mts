/** Types of scripts/lib/wrangler.mjs for the TypeScript callers (the end-to-end test setup). */
export interface ServerHandle {
  url: string;
  pid: number;
  logFile: string;
  exited: boolean;
  stop(): Promise<boolean>;
}
export const HOST: string;
export const repoRoot: string;
export function wranglerVersion(): string;
export function freePort(): Promise<number>;
export function tail(file: string, n?: number): string;
export function stopAll(): Promise<void>;
export function killServer(handle: ServerHandle): Promise<boolean>;
export function runWrangler(args: string[], options?: { cwd?: string; logFile: string; timeoutMs?: number }): Promise<void>;
export function bundleWorker(options: { config: string; outdir: string; logFile: string }): Promise<string>;
export function startWranglerDev(options: {
  config: string;
  script?: string;
  port: number;
  persistTo: string;
  envFile?: string;
  logFile: string;
  extraArgs?: string[];
}): Promise<ServerHandle>;
export function startNodeService(options: { script: string; args?: string[]; port: number; env?: Record<string, string>; logFile: string }): ServerHandle;
export function percentile(sorted: number[], p: number): number;
export function logProblems(logFile: string): string[];
export function withServer<T>(
  options: { name: string; config: string; dir: string; envFile?: string; snapshot?: boolean },
  measure: (server: ServerHandle) => Promise<T>,
): Promise<T & { problems: string[] }>;
export function waitForHttp(handle: ServerHandle, urlPath: string, options?: { timeoutMs?: number; expectStatus?: number; logFile?: string }): Promise<void>;

/** Types of scripts/lake-servers.mjs for the TypeScript callers (test setup). */
export declare const S3RVER_KEY: { accessKeyId: string; secretAccessKey: string };
export declare const AZURITE_ACCOUNT: string;
export declare const AZURITE_KEY: string;
export declare function freePort(): Promise<number>;
export declare function startS3rver(options?: { buckets?: string[]; port?: number }): Promise<{ endpoint: string; directory: string; close(): Promise<void> }>;
export declare function s3Writer(endpoint: string): { put(bucket: string, key: string, body: Uint8Array | string): Promise<string | null> };
export declare function startAzurite(options?: { port?: number }): Promise<{ endpoint: string; close(): Promise<void> }>;

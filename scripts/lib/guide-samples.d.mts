/** Types of scripts/lib/guide-samples.mjs for the TypeScript callers (test setup). */
export declare const GUIDE_BUCKET: string;
export declare const GUIDE_CONTAINER: string;
export declare const CUSTOMERS: number;
export declare function transactionValue(n: number): number;
export declare function behaviorValue(n: number): number;
export declare function sessionMinutes(n: number): number;
export declare function seedGuideS3(endpoint: string): Promise<void>;
export declare function seedGuideAzure(endpoint: string): Promise<string>;

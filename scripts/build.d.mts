/** Types of scripts/build.mjs for the TypeScript callers (test setup). */
export declare function buildAssets(): void;
export declare function buildSdk(): void;

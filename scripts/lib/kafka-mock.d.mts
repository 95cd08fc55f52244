/** Types of scripts/lib/kafka-mock.mjs for the TypeScript callers (the stream tests). */
export function startKafkaMock(options?: { brokers?: number }): Promise<{ brokers: string; pid: number; stop(): Promise<void> }>;

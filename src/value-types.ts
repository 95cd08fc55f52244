/** The value types a feature can have; the rules a value must follow are in ingest/rules.ts. */
import type { ValueType } from "./db/schema";

export const valueTypes = ["float", "int", "string", "bool", "float_list", "json"] as const satisfies readonly ValueType[];

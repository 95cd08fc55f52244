/**
 * JSON parsing that keeps the source text of numbers in arrays. A JS number holds integers exactly
 * only up to 2^53, and `1.0` and `1` parse to the same number, but Feast join keys are int64 and
 * must come back exactly as sent: `JSON.parse` with source text access (the reviver's `context`)
 * records, for every array, the text of each of its number elements.
 */

interface Box {
  value: number;
  source: string;
}

const boxes = new WeakSet<Box>();
const isBox = (v: unknown): v is Box => typeof v === "object" && v !== null && boxes.has(v as Box);

export interface ParsedJson {
  value: unknown;
  /** For each array of the document, the source text of its number elements (undefined for other elements). */
  numberSources: WeakMap<unknown[], (string | undefined)[]>;
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

/** Parses `text` like JSON.parse (throws SyntaxError the same way), keeping numbers' source text. */
export function parseJsonKeepingNumbers(text: string): ParsedJson {
  const numberSources = new WeakMap<unknown[], (string | undefined)[]>();
  // Numbers are boxed with their source and unboxed by their parent, bottom-up.
  const reviver: Reviver = (_key, value, context) => {
    if (typeof value === "number") {
      const box = { value, source: context?.source ?? String(value) };
      boxes.add(box);
      return box;
    }
    if (Array.isArray(value)) {
      numberSources.set(
        value,
        value.map((v) => (isBox(v) ? v.source : undefined)),
      );
      for (let i = 0; i < value.length; i++) if (isBox(value[i])) value[i] = (value[i] as Box).value;
    } else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>;
      for (const k of Object.keys(record)) if (isBox(record[k])) record[k] = (record[k] as Box).value;
    }
    return value;
  };
  const parsed: unknown = JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]);
  return { value: isBox(parsed) ? parsed.value : parsed, numberSources };
}

/**
 * A join-key value as an FStore entity id: strings as they are, integers by their exact digits
 * (`9007199254740993` stays itself), other numbers and booleans as JS prints them.
 */
export function entityIdOf(value: string | number | boolean, source: string | undefined): string {
  if (typeof value === "number" && source !== undefined && /^-?\d+$/.test(source)) return source;
  return String(value);
}

/** A join-key value as JSON, exactly as the client sent it (numbers by their source text). */
export function keyJsonOf(value: string | number | boolean, source: string | undefined): string {
  if (typeof value === "number" && source !== undefined) return source;
  return JSON.stringify(value);
}

/**
 * Rows bound to D1 as one JSON array parameter and unpacked in SQL with `json_each`: D1 allows 100
 * bound parameters per statement, so binding each column would cap a statement at 25 rows of four
 * columns. Microseconds (bigint) become exact JSON integers, which JSON.stringify refuses.
 */
const CHUNK_ROWS = 1000;
/** Stay well under D1's 2 MB limit for one bound value. */
const CHUNK_BYTES = 512 * 1024;

/** A row of column values as a JSON array. */
export function jsonRow(row: readonly unknown[]): string {
  return `[${row.map((v) => (typeof v === "bigint" ? v.toString() : JSON.stringify(v))).join(",")}]`;
}

/** Rows packed into JSON arrays small enough to bind as one parameter: at most CHUNK_ROWS rows and about CHUNK_BYTES each. */
export function jsonArrayChunks(rows: Iterable<readonly unknown[]>): Generator<string> {
  return jsonTextChunks((function* () {
    for (const row of rows) yield jsonRow(row);
  })());
}

/** Rows already encoded as JSON text (one array each), packed as jsonArrayChunks packs them. */
export function* jsonTextChunks(parts: Iterable<string>): Generator<string> {
  let chunk: string[] = [];
  let bytes = 0;
  for (const part of parts) {
    if (chunk.length > 0 && (chunk.length >= CHUNK_ROWS || bytes + part.length > CHUNK_BYTES)) {
      yield `[${chunk.join(",")}]`;
      chunk = [];
      bytes = 0;
    }
    chunk.push(part);
    bytes += part.length + 1;
  }
  if (chunk.length > 0) yield `[${chunk.join(",")}]`;
}

/** Single values (ids, entity ids) packed like rows: JSON arrays of at most CHUNK_ROWS values and about CHUNK_BYTES each. */
export function jsonValueChunks(values: Iterable<unknown>): Generator<string> {
  return jsonTextChunks((function* () {
    for (const v of values) yield JSON.stringify(v);
  })());
}

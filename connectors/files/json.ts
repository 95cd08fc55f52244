/**
 * JSON files: a top-level array of objects (`[{...}, {...}]`) or NDJSON / JSON Lines (one object
 * per line). Which one is decided by the first character, whatever the definition's `format`
 * says, since `.json` files in lakes are often JSON Lines. Both are read in byte chunks: array
 * elements are cut by a bracket-depth scanner, so a large array never has to be parsed whole.
 */
import { describeColumns, FileError, type ReadOptions, type RowBatch } from "./types";
import { bomLength, ByteWindow, decodeUtf8, jsonArrayScanner, lineScanner, nextBatchLength } from "./text";

/** Where rows start, and whether they are array elements or lines. */
async function layout(options: ReadOptions): Promise<{ array: boolean; start: number }> {
  const window = new ByteWindow(options, 0);
  while (await window.more()) {
    const bom = bomLength(window);
    const first = window.buf.findIndex((b, i) => i >= bom && !(b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a));
    if (first >= 0) return { array: window.buf[first] === 0x5b, start: window.buf[first] === 0x5b ? first + 1 : bom };
    if (window.buf.length > 1024 * 1024) break;
  }
  return { array: false, start: options.file.size };
}

function parseRow(text: string, row: number): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FileError(`row ${row}: invalid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new FileError(`row ${row} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

export async function* readJson(options: ReadOptions): AsyncGenerator<RowBatch> {
  const { array, start } = await layout(options);
  const { entity, value, timestamp, timestampRequired } = options.columns;
  const window = new ByteWindow(options, options.cursor.byte > 0 ? options.cursor.byte : start);
  const scanner = array ? jsonArrayScanner() : lineScanner();
  let row = options.cursor.row;
  for (;;) {
    const { length } = await nextBatchLength(window, scanner, options.batchRows);
    if (length === 0) return;
    const offset = window.offset;
    const bytes = window.buf.subarray(0, length);
    const records = array ? splitArrayRecords(bytes, offset) : decodeUtf8(bytes, offset).split("\n").filter((line) => line.trim() !== "");
    window.consume(length);
    const rows = records.map((record, i) => {
      const n = row + i + 1;
      const obj = parseRow(record, n);
      for (const [role, name] of [["entity_column", entity], ["value_column", value], ...(timestampRequired ? [["timestamp_column", timestamp]] : [])]) {
        if (!((name as string) in obj)) throw new FileError(`row ${n}, column '${name}' (${role}): the row has no such field; its fields are: ${describeColumns(Object.keys(obj))}`);
      }
      return [obj[entity], obj[value], obj[timestamp]] as [unknown, unknown, unknown];
    });
    if (rows.length > 0) yield { rows, firstRow: row, next: { row: row + rows.length, byte: window.offset } };
    row += rows.length;
    if ((scanner as { ended?: boolean }).ended) return;
  }
}

/** The array elements in a batch's bytes, found again with the same scanner. */
function splitArrayRecords(bytes: Uint8Array, offset: number): string[] {
  const scanner = jsonArrayScanner();
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const end = scanner.next(bytes, from, bytes.length);
    if (end < 0) break;
    out.push(decodeUtf8(bytes.subarray(from, end), offset + from).replace(/^[\s,]+/, ""));
    from = end;
    scanner.reset();
  }
  // A file cut off inside its last element: that element is a record too, and fails to parse.
  const rest = scanner.ended ? "" : decodeUtf8(bytes.subarray(from), offset + from).replace(/^[\s,]+/, "").trim();
  if (rest !== "") out.push(rest);
  return out;
}

/**
 * CSV with a header row, parsed by papaparse (quoting, escaped quotes, quoted newlines, CRLF).
 * The delimiter is detected from the header (comma, semicolon, tab, pipe). Cells stay strings;
 * the feature's value type converts them (connectors/files/shape.ts). On a resumed read the header
 * is read again from the start of the file, then reading continues at the cursor's byte offset.
 */
import Papa from "papaparse";
import { describeColumns, FileError, type ReadOptions, type RowBatch } from "./types";
import { bomLength, ByteWindow, csvScanner, decodeUtf8, nextBatchLength } from "./text";

interface Header {
  columns: string[];
  delimiter: string;
  /** Byte offset of the first data row. */
  end: number;
  /** The bytes read so far, positioned at the first data row (a small file is read in one request). */
  window: ByteWindow;
}

async function readHeader(options: ReadOptions): Promise<Header> {
  const window = new ByteWindow(options, 0);
  await window.more();
  const bom = bomLength(window);
  window.consume(bom);
  const { length } = await nextBatchLength(window, csvScanner(), 1);
  if (length === 0) throw new FileError("the file is empty: a CSV file needs a header row");
  const parsed = Papa.parse<string[]>(decodeUtf8(window.buf.subarray(0, length), bom), { delimitersToGuess: [",", ";", "\t", "|"] });
  const columns = (parsed.data[0] ?? []).map((c) => c.trim());
  if (columns.length === 0 || columns.every((c) => c === "")) throw new FileError("the header row is empty");
  window.consume(length);
  return { columns, delimiter: parsed.meta.delimiter, end: bom + length, window };
}

export async function* readCsv(options: ReadOptions): AsyncGenerator<RowBatch> {
  const header = await readHeader(options);
  const { entity, value, timestamp, timestampRequired } = options.columns;
  const index = (name: string) => header.columns.indexOf(name);
  for (const [role, name] of [["entity_column", entity], ["value_column", value], ...(timestampRequired ? [["timestamp_column", timestamp]] : [])]) {
    if (index(name as string) < 0) throw new FileError(`no column '${name}' (${role}) in the header; the header has: ${describeColumns(header.columns)}`);
  }
  const [ei, vi, ti] = [index(entity), index(value), index(timestamp)];

  const window = options.cursor.byte > 0 ? new ByteWindow(options, options.cursor.byte) : header.window;
  const scanner = csvScanner();
  let row = options.cursor.row;
  for (;;) {
    const { length } = await nextBatchLength(window, scanner, options.batchRows);
    if (length === 0) return;
    const offset = window.offset;
    const text = decodeUtf8(window.buf.subarray(0, length), offset);
    window.consume(length);
    const parsed = Papa.parse<string[]>(text, { delimiter: header.delimiter, skipEmptyLines: "greedy" });
    const bad = parsed.errors.find((e) => e.type === "Quotes");
    if (bad) throw new FileError(`row ${row + (bad.row ?? 0) + 1}: ${bad.message.toLowerCase()} (an unterminated quoted field?)`);
    const rows = parsed.data.map((cells, i) => {
      if (cells.length < header.columns.length && cells.length <= Math.max(ei, vi, ti)) {
        throw new FileError(`row ${row + i + 1} has ${cells.length} field(s) but the header has ${header.columns.length}`);
      }
      return [cells[ei], cells[vi], ti >= 0 ? cells[ti] : undefined] as [unknown, unknown, unknown];
    });
    if (rows.length > 0) yield { rows, firstRow: row, next: { row: row + rows.length, byte: window.offset } };
    row += rows.length;
  }
}

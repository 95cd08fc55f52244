/**
 * Text formats (CSV, JSON, NDJSON) read in byte chunks through range requests. A batch is cut at a
 * record boundary found by a small byte scanner — a newline outside quotes (CSV), a newline
 * (NDJSON), the end of a top-level array element (JSON) — so the byte offset after a batch is a
 * valid place to resume from, and no more than one batch plus one chunk is ever held in memory.
 * The scanners only look at ASCII bytes (`"`, `\`, brackets, newline), which never occur inside
 * a multi-byte UTF-8 sequence, so cutting there never splits a character.
 */
import { FileError, readBytes, type ReadOptions } from "./types";

/** Bytes fetched per range request. */
export const CHUNK_BYTES = 1024 * 1024;
/** A batch stops growing at this many bytes even when it has fewer rows than asked for. */
const BATCH_BYTES = 8 * 1024 * 1024;
/** One record may not be larger than this. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

const NL = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The not-yet-consumed bytes of a file from `offset` on. */
export class ByteWindow {
  buf = new Uint8Array(0);

  constructor(
    private readonly options: ReadOptions,
    /** File offset of buf[0]. */
    public offset: number,
  ) {}

  get eof(): boolean {
    return this.offset + this.buf.length >= this.options.file.size;
  }

  /** Appends the next chunk; false at the end of the file. */
  async more(): Promise<boolean> {
    if (this.eof) return false;
    const start = this.offset + this.buf.length;
    const chunk = await readBytes(this.options, start, start + CHUNK_BYTES);
    if (chunk.length === 0) throw new FileError(`the file ended at byte ${start}, before the ${this.options.file.size} bytes it was listed with`);
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf);
    merged.set(chunk, this.buf.length);
    this.buf = merged;
    return true;
  }

  /** Drops the first `n` bytes. */
  consume(n: number): void {
    this.buf = this.buf.slice(n);
    this.offset += n;
  }
}

/** Finds record ends; keeps its state across chunks and restarts at each record boundary. */
export interface RecordScanner {
  /** Scans buf[from, to); returns the index just past the first record end found, or -1. */
  next(buf: Uint8Array, from: number, to: number): number;
  reset(): void;
}

/** CSV: a newline ends a record when it is outside quotes (RFC 4180 escapes a quote as ""). */
export function csvScanner(): RecordScanner {
  let inQuotes = false;
  return {
    next(buf, from, to) {
      for (let i = from; i < to; i++) {
        const b = buf[i];
        if (b === QUOTE) inQuotes = !inQuotes;
        else if (b === NL && !inQuotes) return i + 1;
      }
      return -1;
    },
    reset: () => (inQuotes = false),
  };
}

export function lineScanner(): RecordScanner {
  return {
    next(buf, from, to) {
      const i = buf.subarray(from, to).indexOf(NL);
      return i < 0 ? -1 : from + i + 1;
    },
    reset: () => {},
  };
}

/**
 * Elements of a top-level JSON array, scanned from just inside the `[` (or after a previous
 * element). A record ends after the element's closing bracket/quote or before the `,`/`]` that
 * ends a bare literal; separators and whitespace belong to the next record and are trimmed.
 */
export function jsonArrayScanner(): RecordScanner & { ended: boolean } {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let inElement = false;
  const scanner = {
    ended: false,
    next(buf: Uint8Array, from: number, to: number) {
      for (let i = from; i < to; i++) {
        const b = buf[i] as number;
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) {
            inString = false;
            if (depth === 0) return endElement(i + 1);
          }
          continue;
        }
        if (!inElement) {
          if (b === 0x20 || b === 0x09 || b === 0x0d || b === NL || b === 0x2c) continue; // whitespace, comma
          if (b === 0x5d) {
            // ']' closes the array: the rest of the file is not rows.
            scanner.ended = true;
            return -1;
          }
          inElement = true;
        }
        if (b === QUOTE) inString = true;
        else if (b === 0x7b || b === 0x5b) depth++;
        else if (b === 0x7d || b === 0x5d) {
          depth--;
          if (depth === 0) return endElement(i + 1);
          if (depth < 0) return endElement(i); // a bare literal ended by the array's ']'
        } else if (depth === 0 && (b === 0x2c || b === 0x20 || b === NL || b === 0x0d || b === 0x09)) return endElement(i);
      }
      return -1;
    },
    reset() {
      depth = 0;
      inString = false;
      escaped = false;
      inElement = false;
    },
  };
  function endElement(end: number) {
    inElement = false;
    depth = 0;
    return end;
  }
  return scanner;
}

/**
 * Cuts the next batch of at most `maxRecords` whole records off the window: returns the byte
 * length of the batch (0 when the file is done). At the end of the file the last record needs no
 * terminator.
 */
export async function nextBatchLength(window: ByteWindow, scanner: RecordScanner, maxRecords: number): Promise<{ length: number; records: number }> {
  scanner.reset();
  let records = 0;
  let end = 0;
  let scanned = 0;
  for (;;) {
    while (records < maxRecords && end < BATCH_BYTES) {
      const next = scanner.next(window.buf, scanned, window.buf.length);
      if (next < 0) break;
      records++;
      end = next;
      scanned = next;
      scanner.reset();
    }
    if ((scanner as { ended?: boolean }).ended) return { length: end, records };
    if (records >= maxRecords || end >= BATCH_BYTES) return { length: end, records };
    // The scanner has seen everything up to here; it carries on with the next chunk.
    scanned = window.buf.length;
    if (window.buf.length - end > MAX_RECORD_BYTES) throw new FileError(`a record at byte ${window.offset + end} is longer than ${MAX_RECORD_BYTES} bytes`);
    if (!(await window.more())) {
      // End of file: whatever follows the last terminator is the last record.
      if (window.buf.length > end && !isBlank(window.buf.subarray(end))) return { length: window.buf.length, records: records + 1 };
      return { length: window.buf.length, records };
    }
  }
}

export function isBlank(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === NL);
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 text of `bytes`, or a FileError saying where the file is not UTF-8. */
export function decodeUtf8(bytes: Uint8Array, offset: number): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new FileError(`not UTF-8 text (bytes ${offset}-${offset + bytes.length})`);
  }
}

/** Skips a UTF-8 byte order mark at the start of the file. */
export function bomLength(window: ByteWindow): number {
  const b = window.buf;
  return window.offset === 0 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

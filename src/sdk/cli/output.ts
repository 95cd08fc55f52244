/**
 * What the CLI prints: aligned tables for people, JSON for scripts (`--json`), and the live
 * progress of a run on stderr (a redrawn bar on a terminal, one line per change otherwise).
 */
import type { Run } from "../client.ts";

export type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** An aligned plain-text table of `rows` with the given columns (header in capitals). */
export function table(rows: Row[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] as number)).join("  ").trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join("\n");
}

/** One record as `key: value` lines. */
export function record(row: Row): string {
  const width = Math.max(...Object.keys(row).map((k) => k.length));
  return Object.entries(row)
    .map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`)
    .join("\n");
}

const number = (n: number) => n.toLocaleString("en-US");

function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** The final summary of a run, one line. */
export function runSummary(run: Run): string {
  const parts = [`run ${run.id} ${run.status}`, `${number(run.rows_read)} rows read`, `${number(run.rows_written)} written`, `${number(run.rows_unchanged)} unchanged`];
  if (run.duration_ms !== null) parts.push(`${(run.duration_ms / 1000).toFixed(1)} s`);
  if (run.watermark) parts.push(`watermark ${run.watermark}`);
  if (run.error) parts.push(`error: ${run.error}`);
  return parts.join(", ");
}

/** Files of a data-lake run done so far, when known. */
export interface FileProgress {
  done: number;
  total: number;
}

/**
 * Shows a run's progress on `stream`: on a terminal a bar redrawn in place (filled by files done
 * for data-lake runs, a moving block while the total is unknown); elsewhere a line each time the
 * status or the row count changes.
 */
export class ProgressView {
  private readonly started = Date.now();
  private frame = 0;
  private last = "";
  private readonly stream: NodeJS.WriteStream;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.stream = stream;
  }

  update(run: Run, files?: FileProgress): void {
    const rows = `${number(run.rows_read)} rows read`;
    const fileText = files && files.total > 0 ? `, ${files.done}/${files.total} files` : "";
    if (this.stream.isTTY) {
      const width = 24;
      let bar: string;
      if (files && files.total > 0) {
        const filled = Math.round((files.done / files.total) * width);
        bar = "#".repeat(filled) + "-".repeat(width - filled);
      } else {
        const at = this.frame++ % width;
        bar = "-".repeat(at) + "###".slice(0, width - at) + "-".repeat(Math.max(0, width - at - 3));
      }
      this.stream.write(`\r[${bar}] ${run.status.padEnd(9)} ${rows}${fileText}  ${elapsed(Date.now() - this.started)}\x1b[K`);
      return;
    }
    const line = `${run.status}: ${rows}${fileText}`;
    if (line !== this.last) this.stream.write(`run ${run.id} ${line}\n`);
    this.last = line;
  }

  /** Ends the redrawn line so what follows starts on its own. */
  done(): void {
    if (this.stream.isTTY) this.stream.write("\n");
  }
}

/**
 * The contract between the run lifecycle and a kind of source. A source is a reader: given the
 * run's context and the cursor the previous invocation saved, it yields events, and the lifecycle
 * turns each event into one D1 batch (one transaction):
 *
 * - `rows`: stage these shaped rows; the cursor says where reading continues after them;
 * - `commit`: promote everything staged since the last commit into history/latest, with the
 *   source's own bookkeeping (a file's status, its ETag) in the same transaction;
 * - `discard`: drop everything staged since the last commit (a bad file; a read to redo);
 * - `pause`: the invocation's budget is spent; the next invocation continues from the cursor.
 *
 * The reader checks `budget.spent()` between batches and decides where it can stop. When the
 * generator returns, the source is exhausted and its return value says whether the run succeeded.
 */
import type { FeatureRow } from "../db/schema";
import type { Bindings } from "../env";
import type { ShapedRow } from "../ingest/shape";
import type { Micros } from "../time";

/** What one invocation may still spend. */
export interface Budget {
  /** Whether rows, items or time are used up. */
  spent(): boolean;
  /** Rows this invocation may still stage. */
  rowsLeft(): number;
  /** Counts one finished item (a file) against the budget. */
  useItem(): void;
}

export interface RunContext {
  env: Bindings;
  feature: FeatureRow;
  runId: string;
  /** The timestamp of rows whose source has none: the run's start, the same in every invocation. */
  runMicros: Micros;
  /** The greatest timestamp committed by earlier runs (RFC 3339), bound to `:since`. */
  watermark: string | null;
  budget: Budget;
}

/** A commit's staged range, for bookkeeping that counts what it promoted. */
export interface StagedRange {
  from: number;
  to: number;
}

export type SourceEvent =
  | { type: "rows"; rows: ShapedRow[]; cursor: unknown; bookkeeping?: D1PreparedStatement[] }
  | { type: "commit"; cursor: unknown; bookkeeping?: (range: StagedRange) => D1PreparedStatement[] }
  | { type: "discard"; cursor: unknown; bookkeeping?: D1PreparedStatement[] }
  | { type: "pause"; cursor: unknown };

/** How the run ended: null, or the error to record (the run is failed; what was committed stays). */
export interface SourceOutcome {
  error: string | null;
}

export interface Source {
  read(ctx: RunContext, cursor: unknown): AsyncGenerator<SourceEvent, SourceOutcome>;
}

/** A failure the run records with its message: a result of the wrong shape, a misconfigured feature, a lost lease. */
export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunError";
  }
}

/**
 * What a feature's source fields mean: which kind of source feeds it (push, SQL query, data-lake
 * files, stream), the file source's path/format/column mapping, and the checks made when a
 * definition is registered or changed — a named connector must exist and be of the right kind,
 * and a file feature's format must be known — so a bad definition is a 400 at registration, not
 * a failed run later.
 */
import { connectorFor } from "../../connectors/registry";
import { formatOf } from "../../connectors/files/read";
import type { FileFormat, MappedColumns } from "../../connectors/files/types";
import type { ConnectorKind } from "../../connectors/types";
import type { SourceType } from "../db/schema";
import { ApiError } from "../errors";

/** Which kind of source a definition describes, from the fields it sets. */
export function sourceTypeOf(source: Record<string, unknown>): SourceType {
  if (source.query) return "sql";
  if (source.path || source.batch_config) return "file";
  if (source.topic || source.stream_config) return "stream";
  return "push";
}

/** The connector kind each source type reads from. */
const connectorKindOf: Partial<Record<SourceType, ConnectorKind>> = { sql: "sql", file: "object_store", stream: "stream" };

export interface FileSource {
  path: string;
  format: FileFormat;
  columns: MappedColumns;
  /** The connector to read, or null: the only object-store connector there is (the guide's batch example names none). */
  connector: string | null;
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

/** The file source of a definition (`path` or `batch_config.path`, format, column mapping), or why there is none. */
export function fileSourceOf(source: Record<string, unknown>): FileSource | string {
  const batch = (source.batch_config ?? {}) as { path?: string };
  const path = str(source.path) ?? batch.path;
  if (typeof path !== "string") return "the feature has no 'path' (or 'batch_config.path')";
  const format = formatOf(source.format, path);
  if (!format) return `cannot tell the format of '${path}' from its extension: set 'format' to parquet, csv, json or ndjson`;
  return {
    path,
    format,
    columns: {
      entity: str(source.entity_column) ?? "entity_id",
      value: str(source.value_column) ?? "value",
      timestamp: str(source.timestamp_column) ?? "timestamp",
      timestampRequired: str(source.timestamp_column) !== undefined,
    },
    connector: str(source.connector) ?? null,
  };
}

/**
 * Refuses (400) a definition whose source cannot work: a connector that does not exist or is of
 * the wrong kind, a file feature whose format cannot be worked out.
 */
export async function checkSource(db: D1Database, source: Record<string, unknown>): Promise<void> {
  const type = sourceTypeOf(source);
  if (type === "file") {
    const file = fileSourceOf(source);
    if (typeof file === "string") throw new ApiError("VALIDATION_FAILED", file, [{ path: "format", message: file }]);
  }
  const name = str(source.connector);
  if (name === undefined) return;
  const row = await db.prepare("SELECT type FROM connectors WHERE name = ?1").bind(name).first<{ type: string }>();
  if (!row) throw new ApiError("VALIDATION_FAILED", `connector '${name}' does not exist: create it first (POST /api/v1/connectors)`, [{ path: "connector", message: "no such connector" }]);
  const kind = connectorFor(row.type)?.kind;
  const wanted = connectorKindOf[type];
  if (type === "push") {
    throw new ApiError("VALIDATION_FAILED", `the feature names connector '${name}' but no source to read from it: add a 'query', a 'path' (or 'batch_config') or a 'topic'`, [
      { path: "connector", message: "no source fields" },
    ]);
  }
  if (kind !== wanted) {
    const needs = { sql: "a postgres or mysql", object_store: "an s3 or adls", stream: "a kafka or pulsar" }[wanted as ConnectorKind];
    throw new ApiError("VALIDATION_FAILED", `connector '${name}' is a ${row.type} connector; a ${type} feature needs ${needs} connector`, [
      { path: "connector", message: `wrong kind of connector (${row.type})` },
    ]);
  }
}

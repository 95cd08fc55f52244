/**
 * The one table from a feature's source type to the reader its runs use. Push and stream features
 * have no runs: their values arrive through the API.
 */
import type { FeatureRow, SourceType } from "../db/schema";
import { ApiError } from "../errors";
import { fileSource } from "./file-source";
import type { Source } from "./source";
import { sqlSource } from "./sql-source";

const sources: Partial<Record<SourceType, Source>> = { sql: sqlSource, file: fileSource };

/** Whether features of this source type are materialized by runs. */
export const hasRuns = (type: SourceType) => sources[type] !== undefined;

export function sourceOf(feature: FeatureRow): Source {
  const source = sources[feature.sourceType];
  if (!source) throw new ApiError("BAD_REQUEST", `feature '${feature.name}' is a ${feature.sourceType} feature: its values are pushed, not pulled by runs`);
  return source;
}
